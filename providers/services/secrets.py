"""Encryption keys and the stored secrets: checking they decrypt, re-encrypting on rotation."""

from __future__ import annotations

from django.db import DatabaseError, transaction

from providers.fields import UndecryptableSecret
from providers.models import ProviderAccount, ProviderKind, webhook_secret_problem


def secrets_undecryptable() -> dict[str, list[str]]:
    """Accounts whose stored secrets the configured keys cannot decrypt: {account: [fields]}."""
    broken = {}
    for account in ProviderAccount.objects.only("name", *ProviderAccount.SECRET_FIELDS):
        fields = account.undecryptable_fields()
        if fields:
            broken[account.name] = fields
    return broken


def webhook_url_secrets_weak() -> list[str]:
    """Names of the Mailchimp Marketing accounts whose stored webhook URL secret is too short or
    not URL-safe (set before that was refused)."""
    accounts = ProviderAccount.objects.filter(kind=ProviderKind.MAILCHIMP_MARKETING)
    return [
        account.name
        for account in accounts.only("name", "kind", "webhook_secret")
        if not isinstance(account.webhook_secret, UndecryptableSecret)
        and webhook_secret_problem(account.kind, account.webhook_secret)
    ]


class UndecryptableSecretsError(Exception):
    def __init__(self, broken: dict[str, list[str]]):
        self.broken = broken
        listing = "; ".join(f"{name}: {', '.join(fields)}" for name, fields in broken.items())
        super().__init__(
            "FIELD_ENCRYPTION_KEY cannot decrypt stored provider secrets "
            f"({listing}). Add the key they were written with to FIELD_ENCRYPTION_KEY."
        )


def secrets_reencrypt() -> int:
    """Re-encrypt every stored secret with the newest key (the first in FIELD_ENCRYPTION_KEY).

    Refuses to touch anything while a secret cannot be decrypted: re-saving it would lose it.
    Returns the number of accounts rewritten."""
    with transaction.atomic():
        accounts = list(ProviderAccount.objects.select_for_update().order_by("pk"))
        broken = {a.name: a.undecryptable_fields() for a in accounts if a.undecryptable_fields()}
        if broken:
            raise UndecryptableSecretsError(broken)
        for account in accounts:
            # Reading decrypted with whichever key matched; saving encrypts with the first.
            account.save(update_fields=list(ProviderAccount.SECRET_FIELDS))
    return len(accounts)


def secrets_guard() -> None:
    """Raise UndecryptableSecretsError if any stored secret cannot be decrypted.

    A database that is not migrated yet has nothing to check."""
    try:
        broken = secrets_undecryptable()
    except DatabaseError:
        return
    if broken:
        raise UndecryptableSecretsError(broken)
