"""`manage.py rotate_secrets`: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from providers.services.secrets import UndecryptableSecretsError, secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every provider secret with the first key of FIELD_ENCRYPTION_KEY, so older "
        "keys can then be removed. Changes nothing if any secret cannot be decrypted."
    )

    def handle(self, *args, **options):
        try:
            count = secrets_reencrypt()
        except UndecryptableSecretsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Re-encrypted the secrets of {count} account(s) with the newest key.")
