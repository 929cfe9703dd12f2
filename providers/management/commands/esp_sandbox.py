"""`manage.py esp_sandbox --port N`: run the loopback ESP sandbox in the foreground."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand

from providers.sandbox import EspSandbox


class Command(BaseCommand):
    help = (
        "Run the loopback ESP sandbox (SendGrid, Mailchimp Marketing, Mailchimp Transactional "
        "APIs under /sendgrid, /mailchimp, /mandrill; SMTP on the next port) until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.ESP_SANDBOX_PORT)
        parser.add_argument(
            "--smtp-port", type=int, default=None, help="default: the HTTP port + 1"
        )

    def handle(self, *args, host, port, smtp_port, **options):
        smtp_port = smtp_port or port + 1
        self.stdout.write(
            f"ESP sandbox on http://{host}:{port}/ (records at /_sandbox/requests), "
            f"SMTP on {host}:{smtp_port}"
        )
        with contextlib.suppress(KeyboardInterrupt):
            EspSandbox().serve_forever(host, port, smtp_port)
