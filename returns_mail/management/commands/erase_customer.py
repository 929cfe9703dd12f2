"""`manage.py erase_customer EMAIL --by USERNAME`: the admin's "Erase" action, from a shell."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from returns_mail.services.erasure import ErasureError, customer_erase


class Command(BaseCommand):
    help = (
        "Erase everything held about a customer (events, messages, campaign recipients, "
        "delivery events, suppressions, the customer record) and delete them from every "
        "connected Mailchimp Marketing audience."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--by",
            required=True,
            metavar="USERNAME",
            help="The staff user the audit trail records as having erased the customer.",
        )

    def handle(self, *args, email: str, by: str, **options):
        actor = get_user_model().objects.filter(username=by, is_staff=True, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active staff user named {by!r}")
        try:
            report = customer_erase(email=email, actor=actor)
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"erased as {report.placeholder}: {report.summary()}")
