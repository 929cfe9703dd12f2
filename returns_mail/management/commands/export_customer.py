"""`manage.py export_customer EMAIL --by USERNAME [--output FILE]`: the admin's "Export" action
on customers, from a shell: everything held about a customer, as JSON."""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from returns_mail.roles import is_it_admin
from returns_mail.services.subject_access import ExportError, customer_export, export_json


class Command(BaseCommand):
    help = (
        "Export everything held about a customer (the customer record, return events, messages "
        "with their content rendered again from the pinned template version, attempts, "
        "delivery events, consent history, suppressions, audience memberships, campaign "
        "recipients) as JSON, to standard output or a new file. Recorded in the audit trail."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--by",
            required=True,
            metavar="USERNAME",
            help="The IT admin (or superuser) the audit trail records as having exported it.",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write the JSON to this new file (readable by its owner only) instead of "
            "standard output; an existing file is never overwritten.",
        )

    def handle(self, *args, email: str, by: str, output: str | None, **options):
        actor = get_user_model().objects.filter(username=by, is_staff=True, is_active=True).first()
        if actor is None or not is_it_admin(actor):
            raise CommandError(f"no active IT admin or superuser named {by!r}")
        path = Path(output) if output else None
        if path is not None and (path.exists() or not path.parent.is_dir()):
            raise CommandError(f"{path}: exists already, or its folder does not exist")
        try:
            document = customer_export(email=email, actor=actor)
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        text = export_json(document)
        if path is None:
            self.stdout.write(text)
            return
        # Personal data: created for its owner only, and never over another file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        sections = document["sections"]
        rows = sum(len(v) for v in sections.values() if isinstance(v, list))
        self.stdout.write(f"exported {document['email']} to {path}: {rows} rows")
