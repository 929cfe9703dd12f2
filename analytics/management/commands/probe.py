"""`manage.py probe --url https://host [--interval 60] [--once]`: probe the intake API's public
/readyz from outside the app hosts and record each answer (analytics/services/probe.py)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from analytics.models import CheckSource
from analytics.services.probe import probe_record, readyz_url


class Command(BaseCommand):
    help = (
        "Probe the intake API's /readyz over HTTP every --interval seconds (or --once) and "
        "record the result in the database; run it outside the app hosts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="The public base, e.g. https://host")
        parser.add_argument("--interval", type=float, default=60.0, help="Seconds between probes")
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds per probe")
        parser.add_argument("--once", action="store_true", help="Probe once and exit")

    def handle(self, *args, url, interval, timeout, once, **options):
        try:
            target = readyz_url(url)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if interval <= 0 or timeout <= 0:
            raise CommandError("--interval and --timeout must be positive")
        while True:
            started = time.monotonic()
            try:
                check = probe_record(target, timeout=timeout, source=CheckSource.PROBE)
            except Exception as exc:  # the database is unreachable: the minute counts as down
                if once:
                    raise CommandError(
                        f"probe result not recorded ({type(exc).__name__})"
                    ) from None
                self.stderr.write(f"probe result not recorded ({type(exc).__name__})")
                connection.close()  # the next probe connects anew
            else:
                self.stdout.write(f"{check.checked_at:%H:%M:%S} {target} {check.detail}")
            if once:
                return
            time.sleep(max(interval - (time.monotonic() - started), 0))
