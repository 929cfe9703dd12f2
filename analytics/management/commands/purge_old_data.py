"""`manage.py purge_old_data [--dry-run]`: what the daily retention schedule does, now."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics.services.retention import old_data_purge


class Command(BaseCommand):
    help = (
        "Blank raw webhook bodies older than RETENTION_WEBHOOK_DAYS (the rows, their outcome "
        "and their events are kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing."
        )

    def handle(self, *args, dry_run: bool, **options):
        report = old_data_purge(dry_run=dry_run)
        verb = "would be purged" if dry_run else "purged"
        self.stdout.write(
            f"webhook bodies older than {settings.RETENTION_WEBHOOK_DAYS} days {verb}: "
            f"{report.webhook_bodies}"
        )
