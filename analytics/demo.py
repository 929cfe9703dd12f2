"""Demo data of the analytics app: the sandbox posts each demo account's webhooks to this
demo (realistic rates: most mail delivered, some bounces, opens and clicks) and the customers'
replies (inbound mail on the demo's reply domain), and a default set of alert rules."""

from __future__ import annotations

import json
import secrets
from typing import TextIO

from django.conf import settings
from django.urls import reverse

from analytics.models import AlertKind, AlertRule
from providers.demo import sandbox_inbound_file, sandbox_webhooks_file
from providers.models import ProviderAccount, ProviderKind
from providers.webhooks.inbound import url_secret

# Outgoing demo mail gets a reply address on this domain (unless REPLY_DOMAIN is set): the
# sandbox inbox's Reply button, or mail to it through the sandbox's SMTP relay, comes back as
# the provider's inbound post.
DEMO_REPLY_DOMAIN = "replies.demo-shop.example"

# Overall probabilities per provider event, as the sandbox's event generators name them.
SENDGRID_RATES = {
    "bounce": 0.03,
    "dropped": 0.01,
    "deferred": 0.05,
    "open": 0.55,
    "click": 0.2,
    # Apple Mail Privacy Protection opens about a third of the mail as it arrives.
    "machine_open": 0.3,
    "spamreport": 0.002,
    "unsubscribe": 0.01,
}
# Mandrill draws a click only after an open: its rate is per opened message.
MANDRILL_RATES = {
    "hard_bounce": 0.03,
    "soft_bounce": 0.02,
    "open": 0.5,
    "click": 0.35,
    "machine_open": 0.3,
}

ALERT_RECIPIENTS = ["it-alerts@demo-shop.example"]  # the mail lands in the sandbox's SMTP relay
DEFAULT_ALERT_RULES = [
    ("Bounce rate over 5% in the last hour", AlertKind.BOUNCE_RATE, 5, 60),
    ("More than 10 failed sends in 10 minutes", AlertKind.FAILED_SENDS, 10, 10),
    ("Credential check failing 3 minutes in a row", AlertKind.CHECK_FAILING, 3, 3),
    ("No webhook for 6 hours from an account that sent", AlertKind.WEBHOOK_SILENCE, 0, 360),
    ("Template sync drift", AlertKind.SYNC_DRIFT, 0, 60),
    # Gmail advises under 0.1 %, and never 0.3 %, over a day of mail.
    ("Spam-complaint rate over 0.1% in 24 hours", AlertKind.COMPLAINT_RATE, 0.1, 24 * 60),
    ("Sender authentication check failing", AlertKind.SENDER_AUTH, 0, 24 * 60),
]


def _site() -> str:
    return f"http://127.0.0.1:{settings.PORT}"


def webhook_targets() -> list[dict]:
    """The sandbox's webhook targets for the demo accounts (the sandbox matches by API key)."""
    targets = []
    for account in ProviderAccount.objects.filter(name__startswith="Demo ", is_active=True):
        if account.kind == ProviderKind.SENDGRID:
            url = reverse("webhooks:sendgrid", args=[account.pk])
            targets.append(
                {"provider": "sendgrid", "url": _site() + url, "rates": SENDGRID_RATES}
                | {"key": account.api_key, "delay": 2.0}
            )
        elif account.kind == ProviderKind.MAILCHIMP_TRANSACTIONAL:
            url = _site() + reverse("webhooks:mandrill", args=[account.pk])
            targets.append(
                {"provider": "mandrill", "key": account.api_key, "url": url}
                | {"secret": account.webhook_secret, "delay": 2.0, "rates": MANDRILL_RATES}
            )
        elif account.kind == ProviderKind.MAILCHIMP_MARKETING:
            url = reverse("webhooks:mailchimp", args=[account.pk, account.webhook_secret])
            targets.append(
                {"provider": "mailchimp", "key": account.api_key, "url": _site() + url}
                | {"delay": 2.0}
            )
    return targets


def reply_domain() -> str:
    return settings.REPLY_DOMAIN or DEMO_REPLY_DOMAIN


def environment() -> dict[str, str]:
    """Settings for the demo's web server and worker: replies on the demo's reply domain."""
    return {"REPLY_DOMAIN": reply_domain()}


def inbound_targets() -> list[dict]:
    """Where the sandbox posts replies to demo mail: SendGrid Inbound Parse (basic auth, the
    secret URL) and Mandrill's inbound webhook (signed with the webhook key). A SendGrid demo
    account without an inbound secret is given one."""
    targets = []
    for account in ProviderAccount.objects.filter(name__startswith="Demo ", is_active=True):
        if account.kind == ProviderKind.SENDGRID:
            if not account.inbound_secret:
                account.inbound_secret = secrets.token_urlsafe(32)
                account.save(update_fields=["inbound_secret"])
            path = reverse(
                "inbound:sendgrid", args=[account.pk, url_secret(account.inbound_secret)]
            )
            host = _site().removeprefix("http://")
            url = f"http://inbound:{account.inbound_secret}@{host}{path}"
            targets.append({"provider": "sendgrid", "key": account.api_key, "url": url})
        elif account.kind == ProviderKind.MAILCHIMP_TRANSACTIONAL:
            url = _site() + reverse("inbound:mandrill", args=[account.pk])
            targets.append(
                {"provider": "mandrill", "key": account.api_key, "url": url}
                | {"secret": account.webhook_secret}
            )
    return [target | {"domain": reply_domain()} for target in targets]


def _write_private(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))  # holds demo keys: DATA_DIR is git-ignored
    path.chmod(0o600)


def seed(*, out: TextIO) -> None:
    targets = webhook_targets()
    _write_private(sandbox_webhooks_file(), targets)
    _write_private(sandbox_inbound_file(), inbound_targets())
    created = 0
    # Alerts go out through the SMTP relay: it keeps working when an API account is faulted.
    notify = ProviderAccount.objects.filter(
        name__startswith="Demo ", kind=ProviderKind.SMTP
    ).first()
    for name, kind, threshold, window in DEFAULT_ALERT_RULES:
        _, was_created = AlertRule.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "threshold": threshold,
                "window_minutes": window,
                "min_volume": 50,  # the demo's random bounces would fire on a handful of mails
                "notify_account": notify,
                "recipients": ALERT_RECIPIENTS,
            },
        )
        created += was_created
    out.write(
        f"Analytics: the sandbox posts webhooks for {len(targets)} demo accounts and replies "
        f"to mail on {reply_domain()}; "
        f"{len(DEFAULT_ALERT_RULES)} alert rules ({created} new); dashboards at "
        f"{_site()}/analytics/\n"
    )
