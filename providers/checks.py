"""System checks of the providers app (run by `check`, `runserver` and `migrate`; those tagged
STARTUP by the WSGI/ASGI entry points too, config/startup.py)."""

from __future__ import annotations

from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from config.startup import STARTUP
from providers.models import WEBHOOK_URL_SECRET_MIN_LENGTH
from providers.services.secrets import (
    UndecryptableSecretsError,
    secrets_guard,
    webhook_url_secrets_weak,
)


@register(STARTUP)
def stored_secrets_decrypt(app_configs, **kwargs):
    """providers.E001: a stored secret the configured keys cannot decrypt.

    Reads the database on purpose (not only with --database): starting with the wrong key must
    fail loudly, not send ciphertext as an API key later.
    """
    try:
        secrets_guard()
    except UndecryptableSecretsError as exc:
        return [
            Error(
                str(exc),
                hint="Put the previous key after the new one in FIELD_ENCRYPTION_KEY, then run "
                "`manage.py rotate_secrets`.",
                id="providers.E001",
            )
        ]
    return []


@register()
def webhook_url_secrets_strong(app_configs, **kwargs):
    """providers.W001: a Mailchimp Marketing webhook URL secret stored before short ones were
    refused. A warning, not an error: the account keeps receiving its webhooks (rotating the
    secret here would break the URL configured in Mailchimp) until an IT admin replaces it."""
    try:
        weak = webhook_url_secrets_weak()
    except DatabaseError:  # not migrated yet: nothing stored
        return []
    if not weak:
        return []
    return [
        Warning(
            "Mailchimp Marketing webhook URL secrets shorter than "
            f"{WEBHOOK_URL_SECRET_MIN_LENGTH} characters (or not URL-safe): {', '.join(weak)}. "
            "Anyone who guesses one can post forged audience events.",
            hint="In the admin, tick 'generate a new webhook URL secret' on each account, save, "
            "and paste the webhook URL shown into Mailchimp in place of the old one.",
            id="providers.W001",
        )
    ]
