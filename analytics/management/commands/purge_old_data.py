"""`manage.py purge_old_data [--dry-run]`: what the daily retention schedule does, now."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics.services.retention import old_data_purge

# What each count of the report is, and the setting that dates it.
LINES = (
    ("webhook_bodies", "webhook bodies", "RETENTION_WEBHOOK_DAYS"),
    ("delivery_events", "delivery events", "RETENTION_MESSAGE_DAYS"),
    ("webhook_deliveries", "webhook deliveries with no event left", "RETENTION_MESSAGE_DAYS"),
    ("messages", "finished messages", "RETENTION_MESSAGE_DAYS"),
    ("attempts", "their attempts", "RETENTION_MESSAGE_DAYS"),
    ("return_events", "return events with no message left", "RETENTION_MESSAGE_DAYS"),
    ("customers", "customers (erased, suppressions kept) with no event", "RETENTION_CUSTOMER_DAYS"),
    ("consent_records", "consent records without a customer", "RETENTION_CONSENT_DAYS"),
)


class Command(BaseCommand):
    help = (
        "Purge what retention removes: raw webhook bodies (RETENTION_WEBHOOK_DAYS); delivery "
        "events, messages with their attempts and return events (RETENTION_MESSAGE_DAYS); "
        "customers with no recent event (RETENTION_CUSTOMER_DAYS, erased, suppressions kept); "
        "consent history of addresses without a customer (RETENTION_CONSENT_DAYS). "
        "0 days keeps that kind for good."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing."
        )

    def handle(self, *args, dry_run: bool, **options):
        report = old_data_purge(dry_run=dry_run).as_dict()
        verb = "would be purged" if dry_run else "purged"
        for key, label, setting in LINES:
            days = getattr(settings, setting)
            if days:
                self.stdout.write(f"{label} older than {days} days {verb}: {report[key]}")
            else:
                self.stdout.write(f"{label}: kept for good ({setting}=0)")
