"""Demo data of the providers app: one account of each kind on the loopback ESP sandbox, and
the sandbox itself among the demo's processes."""

from __future__ import annotations

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


def processes() -> list[tuple[str, list[str], int]]:
    """The ESP sandbox, with the port it serves (the demo waits for it before the worker)."""
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
            ],
            settings.ESP_SANDBOX_PORT,
        )
    ]
