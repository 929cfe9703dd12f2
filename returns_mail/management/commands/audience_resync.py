"""`manage.py audience_resync [--account ID]`: rebuild the Mailchimp Marketing audiences (or the
audience of one account) from the customer table, in pages of 500, respecting consent and
members that are unsubscribed or cleaned. Prints a JSON summary as its last line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from returns_mail.services.audience import audience_accounts, audience_resync


class Command(BaseCommand):
    help = "Rebuild the Mailchimp Marketing audiences from the customer table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", type=int, default=None, help="only this provider account's audience"
        )

    def handle(self, *args, account: int | None, **options):
        if not audience_accounts(account_id=account):
            which = f"account {account} is not" if account else "no account is"
            raise CommandError(f"{which} an active Mailchimp Marketing account with an audience")
        report = audience_resync(account_id=account)
        self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        if report.failed:
            raise CommandError(f"{report.failed} customers were not synced (see their members)")
