"""Writes on provider accounts: secrets, credential checks, test emails."""

from __future__ import annotations

import logging
import uuid
from secrets import token_urlsafe

from django.db import transaction
from django.utils import timezone
from django.utils.html import escape

from config.audit import audit_record
from providers.clients import client_for
from providers.clients.types import Address, CredentialCheck, OutgoingEmail, SendResult
from providers.models import ProviderAccount, SecretChange

logger = logging.getLogger(__name__)


def account_secrets_set(
    *, account: ProviderAccount, secrets: dict[str, str], actor=None
) -> list[str]:
    """Replace the given secrets (empty values are ignored: replace-only) and record each change.

    Saves the account; returns the names of the fields that changed. A value given counts as
    entered for the account's SMTP host, port and security even when it is the stored one; an
    SMTP password not given is cleared if those changed (ProviderAccount.save). A Mailchimp
    Marketing webhook URL secret that is too short raises ValidationError, saving nothing."""
    changed, messages = [], {}
    for field, value in secrets.items():
        if field not in ProviderAccount.SECRET_FIELDS:
            raise ValueError(f"{field} is not a secret field")
        if value:
            if value != getattr(account, field):
                changed.append(field)
                messages[field] = f"{field} changed"
            account.secret_enter(field, value)
    had_smtp_password = bool(account.smtp_password)
    with transaction.atomic():
        account.save()
        if had_smtp_password and not account.smtp_password:
            changed.append("smtp_password")
            messages["smtp_password"] = (
                "smtp_password cleared: the SMTP host, port or security changed"  # noqa: S105
            )
        SecretChange.objects.bulk_create(
            SecretChange(account=account, field=field, changed_by=actor) for field in changed
        )
        for field in changed:  # the audit trail too: the field's name, never its value
            audit_record(actor=actor, obj=account, action="change", message=messages[field])
    if changed:
        logger.info("secrets %s of account %s changed", ", ".join(changed), account.pk)
    return changed


def webhook_url_secret_new() -> str:
    """A Mailchimp Marketing webhook URL secret: 32 random bytes, URL-safe (43 characters)."""
    return token_urlsafe(32)


def account_check_credentials(*, account_id: int) -> CredentialCheck:
    """Ask the provider whether the account's credentials work; remember the answer."""
    account = ProviderAccount.objects.get(pk=account_id)
    check = client_for(account).check_credentials()  # network: outside any transaction
    ProviderAccount.objects.filter(pk=account_id).update(
        last_check_at=timezone.now(),
        last_check_ok=check.ok,
        last_check_latency_ms=check.latency_ms,
        last_check_detail=check.detail[:2000],
    )
    return check


TEST_EMAIL_SUBJECT = "Returns Mail test email"


def account_send_test(*, account_id: int, to: str) -> SendResult:
    """Send a small fixed test email through the account. Raises ProviderError on failure."""
    account = ProviderAccount.objects.get(pk=account_id)
    correlation_id = f"test-{uuid.uuid4()}"
    email = OutgoingEmail(
        to=Address(to),
        subject=TEST_EMAIL_SUBJECT,
        html=(
            "<p>This is a test email from Returns Mail, sent through the provider account "
            f"<strong>{escape(account.name)}</strong>.</p>"
        ),
        text=f"This is a test email from Returns Mail, sent through the account {account.name}.",
        correlation_id=correlation_id,
        categories=("returns-mail-test",),
    )
    return client_for(account).send(email)
