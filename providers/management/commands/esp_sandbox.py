"""`manage.py esp_sandbox --port N`: run the loopback ESP sandbox in the foreground.

`--port 0` takes any free port (SMTP too, unless `--smtp-port` names one); `--port-file PATH`
then tells which: once both servers listen, PATH holds {"http": N, "smtp": M}. A process that
starts the sandbox reads the ports back instead of picking them beforehand, which another
process could take in between."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from providers.sandbox import EspSandbox
from providers.sandbox.dns import DnsZoneServer
from providers.sandbox.inbound import InboundTarget
from providers.sandbox.mandrill_senders import sending_domain_set
from providers.sandbox.sendgrid import SendGridApp
from providers.sandbox.sendgrid_domains import domain_authenticate
from providers.sandbox.sendgrid_events import signing_key_load_or_create
from providers.sandbox.server import default_provider_apps
from providers.sandbox.webhooks import WebhookTarget

# How a sender domain is marked authenticated at each provider of the sandbox.
SENDER_DOMAINS = {"sendgrid": domain_authenticate, "mandrill": sending_domain_set}


class Command(BaseCommand):
    help = (
        "Run the loopback ESP sandbox (SendGrid, Mailchimp Marketing, Mailchimp Transactional "
        "APIs under /sendgrid, /mailchimp, /mandrill; SMTP on the next port) until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.ESP_SANDBOX_PORT)
        parser.add_argument(
            "--smtp-port",
            type=int,
            default=None,
            help="default: the HTTP port + 1 (with --port 0: any free port)",
        )
        parser.add_argument(
            "--port-file",
            type=Path,
            help='written once listening: {"http": <port>, "smtp": <port>} (for --port 0)',
        )
        parser.add_argument(
            "--signing-key",
            type=Path,
            help="PEM file of the SendGrid webhook signing key (created if missing)",
        )
        parser.add_argument(
            "--webhooks",
            type=Path,
            help='JSON file: [{"provider", "key", "url", "secret", "delay", "rates"}], the '
            "webhook targets to post to (a missing file: none)",
        )
        parser.add_argument(
            "--inbound",
            type=Path,
            help='JSON file: [{"provider", "key", "url", "secret", "domain", "raw"}], where '
            "customers' replies are posted as each provider posts inbound mail (a missing "
            "file: none)",
        )
        parser.add_argument(
            "--dns-port",
            type=int,
            default=None,
            help="also serve a loopback DNS server (UDP and TCP) on this port, answering from "
            "the --sender-auth file's zone",
        )
        parser.add_argument(
            "--sender-auth",
            type=Path,
            help='JSON file: {"zone": {name: {type: [values]}}, "domains": [{"provider", "key", '
            '"domain"}]}: the DNS zone served, and the sender domains authenticated at the '
            "providers for those keys (a missing file: none)",
        )

    def handle(
        self,
        *args,
        host,
        port,
        smtp_port,
        port_file,
        signing_key,
        webhooks,
        inbound,
        dns_port,
        sender_auth,
        **options,
    ):
        if smtp_port is None and port:
            smtp_port = port + 1
        apps = default_provider_apps()
        if signing_key:
            key = signing_key_load_or_create(signing_key)
            apps = [SendGridApp(signing_key=key) if a.name == "sendgrid" else a for a in apps]
        sandbox = EspSandbox(apps)
        targets = json.loads(webhooks.read_text()) if webhooks and webhooks.exists() else []
        for target in targets:
            provider, key = target.pop("provider"), target.pop("key")
            sandbox.set_webhook_target(provider, key, WebhookTarget(**target))
        receivers = json.loads(inbound.read_text()) if inbound and inbound.exists() else []
        for receiver in receivers:
            provider, key = receiver.pop("provider"), receiver.pop("key")
            sandbox.set_inbound_target(provider, key, InboundTarget(**receiver))
        auth = json.loads(sender_auth.read_text()) if sender_auth and sender_auth.exists() else {}
        for entry in auth.get("domains", []):
            authenticate = SENDER_DOMAINS[entry["provider"]]
            authenticate(sandbox, entry["key"], entry["domain"])
        dns = None
        if dns_port is not None:
            try:
                dns = DnsZoneServer(auth.get("zone", {})).start(host, dns_port)
            except OSError as exc:  # the demo's DNS is a nicety: the sandbox runs without it
                self.stderr.write(f"No DNS server on port {dns_port}: {exc}")

        def started(sandbox: EspSandbox) -> None:
            http_port, smtp = sandbox.port, sandbox.smtp.port
            self.stdout.write(
                f"ESP sandbox on http://{host}:{http_port}/ (records at /_sandbox/requests), "
                f"SMTP on {host}:{smtp}; {len(targets)} webhook target(s)"
                + (f"; DNS on {dns.nameserver}" if dns else "")
            )
            self.stdout.flush()
            if port_file:
                # Written aside, then renamed: a reader never sees half a file.
                partial = port_file.with_name(port_file.name + ".partial")
                ports = {"http": http_port, "smtp": smtp}
                if dns is not None:
                    ports["dns"] = dns.port
                partial.write_text(json.dumps(ports))
                partial.replace(port_file)

        try:
            with contextlib.suppress(KeyboardInterrupt):
                sandbox.serve_forever(host, port, smtp_port, started=started)
        finally:
            if dns is not None:
                dns.stop()
