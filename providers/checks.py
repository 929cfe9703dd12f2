"""System checks of the providers app (run by `check`, `runserver` and `migrate`)."""

from __future__ import annotations

from django.core.checks import Error, register

from providers.services.secrets import UndecryptableSecretsError, secrets_guard


@register()
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
