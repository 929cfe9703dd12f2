"""Demo data of the providers app: one account of each kind on the loopback ESP sandbox, and
the sandbox itself among the demo's processes, with a loopback DNS server for the demo
domains (the sender-authentication checklist: most checks pass; the Mailchimp Marketing
account's domain deliberately publishes no DMARC record, to show the record to publish)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from django.conf import settings

from providers.models import ProviderAccount, ProviderKind, Purpose, SmtpSecurity
from providers.sandbox.sendgrid_events import public_key_text, signing_key_load_or_create

SANDBOX_HOST = "127.0.0.1"
DEMO_SENDGRID = "Demo SendGrid (sandbox)"


def sandbox_signing_key_file() -> Path:
    """The sandbox's SendGrid webhook signing key: kept, so the demo account's key stays valid."""
    return Path(settings.DATA_DIR) / "sandbox-sendgrid-signing-key.pem"


def sandbox_webhooks_file() -> Path:
    """Where the sandbox reads its webhook targets (written by the analytics demo)."""
    return Path(settings.DATA_DIR) / "sandbox-webhooks.json"


def sandbox_inbound_file() -> Path:
    """Where the sandbox reads its inbound-mail targets (written by the analytics demo)."""
    return Path(settings.DATA_DIR) / "sandbox-inbound.json"


def sandbox_sender_auth_file() -> Path:
    """The demo's DNS zone and provider domain states, read by the sandbox (written by seed)."""
    return Path(settings.DATA_DIR) / "sandbox-sender-auth.json"


def demo_dns_port() -> int:
    """The loopback DNS server's port (UDP and TCP): after the sandbox's HTTP and SMTP ports."""
    return settings.ESP_SANDBOX_PORT + 2


DEMO_DOMAIN = "demo-shop.example"
# The Mailchimp Marketing account sends from here: a domain without DMARC.
DEMO_NEWS_DOMAIN = "news.demo-outlet.example"


def demo_dns_zone() -> dict:
    """What the demo domains publish: SPF for SendGrid and Mandrill, their DKIM records and a
    DMARC policy at demo-shop.example; nothing but an SPF record at the news domain."""
    return {
        DEMO_DOMAIN: {
            "TXT": ["v=spf1 include:sendgrid.net include:spf.mandrillapp.com ~all"],
            "MX": ["10 mx.demo-shop.example."],
        },
        f"s1._domainkey.{DEMO_DOMAIN}": {"CNAME": ["s1.domainkey.u1.wl.sendgrid.net."]},
        f"s2._domainkey.{DEMO_DOMAIN}": {"CNAME": ["s2.domainkey.u1.wl.sendgrid.net."]},
        f"mte1._domainkey.{DEMO_DOMAIN}": {"CNAME": ["dkim1.mandrillapp.com."]},
        f"mte2._domainkey.{DEMO_DOMAIN}": {"CNAME": ["dkim2.mandrillapp.com."]},
        f"_dmarc.{DEMO_DOMAIN}": {
            "TXT": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@demo-shop.example"]
        },
        DEMO_NEWS_DOMAIN: {"TXT": ["v=spf1 include:servers.mcsv.net ~all"]},
    }


def sender_auth_environment() -> dict[str, str]:
    """For the demo's web server and worker: ask the loopback DNS server."""
    return {"SENDER_AUTH_NAMESERVERS": f"{SANDBOX_HOST}:{demo_dns_port()}"}


def _write_sender_auth_file() -> None:
    """The zone, and the domains the demo's SendGrid and Mandrill keys have authenticated."""
    keys = {a["kind"]: a["api_key"] for a in demo_accounts() if a.get("api_key")}
    domains = [
        {"provider": "sendgrid", "key": keys[ProviderKind.SENDGRID], "domain": DEMO_DOMAIN},
        {
            "provider": "mandrill",
            "key": keys[ProviderKind.MAILCHIMP_TRANSACTIONAL],
            "domain": DEMO_DOMAIN,
        },
    ]
    path = sandbox_sender_auth_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"zone": demo_dns_zone(), "domains": domains}, indent=2))
    path.chmod(0o600)  # holds demo keys: DATA_DIR is git-ignored


def sandbox_url(prefix: str) -> str:
    return f"http://{SANDBOX_HOST}:{settings.ESP_SANDBOX_PORT}/{prefix}"


def demo_accounts() -> list[dict]:
    sender = {"from_email": "returns@demo-shop.example", "from_name": "Demo Shop Returns"}
    return [
        {
            "name": DEMO_SENDGRID,
            "kind": ProviderKind.SENDGRID,
            "purpose": Purpose.BOTH,  # it carries the demo's SendGrid campaigns too
            "priority": 10,
            "api_base_url": sandbox_url("sendgrid"),
            "api_key": "SG.demo-sandbox.key-0000000000000001",
            **sender,
        },
        {
            "name": "Demo Mailchimp Transactional (sandbox)",
            "kind": ProviderKind.MAILCHIMP_TRANSACTIONAL,
            "purpose": Purpose.BOTH,
            "priority": 20,
            "api_base_url": sandbox_url("mandrill"),
            "api_key": "md-demo-sandbox-key-0000000001",
            "webhook_secret": "demo-mandrill-webhook-key-0001",
            **sender,
        },
        {
            "name": "Demo Mailchimp Marketing (sandbox)",
            "kind": ProviderKind.MAILCHIMP_MARKETING,
            "purpose": Purpose.PROMOTIONAL,
            "priority": 10,
            "api_base_url": sandbox_url("mailchimp"),
            "api_key": "0123456789abcdef0123456789abcd01-us6",
            "audience_id": "demo-audience",
            "webhook_secret": "demo-audience-webhook-secret-0001",
            **sender,
            "from_email": f"news@{DEMO_NEWS_DOMAIN}",
        },
        {
            "name": "Demo SMTP relay (sandbox)",
            "kind": ProviderKind.SMTP,
            "purpose": Purpose.BOTH,
            "priority": 90,
            "smtp_host": SANDBOX_HOST,
            "smtp_port": settings.ESP_SANDBOX_PORT + 1,
            "smtp_security": SmtpSecurity.NONE,
            "smtp_username": "apikey",
            "smtp_password": "demo-smtp-password-0001",
            **sender,
        },
    ]


def seed(*, out: TextIO) -> None:
    created = 0
    for fields in demo_accounts():
        name = fields.pop("name")
        _, was_created = ProviderAccount.objects.get_or_create(name=name, defaults=fields)
        created += was_created
    _write_sender_auth_file()
    # The signed event webhook's public key, as an IT admin would paste it from SendGrid.
    key = signing_key_load_or_create(sandbox_signing_key_file())
    ProviderAccount.objects.filter(name=DEMO_SENDGRID).update(
        webhook_verification_key=public_key_text(key)
    )
    out.write(
        f"Provider accounts: {len(demo_accounts())} demo accounts on the ESP sandbox "
        f"({created} new); what the sandbox received: "
        f"http://{SANDBOX_HOST}:{settings.ESP_SANDBOX_PORT}/_sandbox/requests\n"
    )


def environment() -> dict[str, str]:
    """Settings for the demo's other processes (the web server and the worker)."""
    return sender_auth_environment()


def processes() -> list[tuple[str, list[str], int]]:
    """The ESP sandbox (and its DNS server), with the port it serves (the demo waits for it
    before the worker)."""
    manage_py = str(Path(settings.BASE_DIR) / "manage.py")
    port = str(settings.ESP_SANDBOX_PORT)
    return [
        (
            "esp-sandbox",
            [
                sys.executable,
                manage_py,
                "esp_sandbox",
                "--port",
                port,
                "--signing-key",
                str(sandbox_signing_key_file()),
                "--webhooks",
                str(sandbox_webhooks_file()),
                "--inbound",
                str(sandbox_inbound_file()),
                "--dns-port",
                str(demo_dns_port()),
                "--sender-auth",
                str(sandbox_sender_auth_file()),
            ],
            settings.ESP_SANDBOX_PORT,
        )
    ]
