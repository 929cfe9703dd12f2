"""Demo data of this app, loaded by `manage.py demo`: the staff logins for each role, an API
client with a token printed every run, a trigger rule per event type, and a return history of
240 customers (for segments and campaigns)."""

from __future__ import annotations

import secrets
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.env import dev_secret
from returns_mail.roles import IT_ADMINS, MANAGERS

DEMO_LOGINS = (
    # username, role, may use the admin
    ("itadmin", IT_ADMINS, True),
    ("manager", MANAGERS, False),
)


def seed(*, out: TextIO) -> None:
    seed_logins(out=out)
    seed_api_client(out=out)
    seed_rules(out=out)
    seed_return_history(out=out)


def seed_logins(*, out: TextIO) -> None:
    User = get_user_model()
    for username, role, is_staff in DEMO_LOGINS:
        password = dev_secret(f"DEMO_{username.upper()}_PASSWORD", lambda: secrets.token_urlsafe(9))
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": is_staff}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        note = "" if user.check_password(password) else "  (password changed since; yours applies)"
        out.write(f"{role} login: {username} / {password}{note}\n")


DEMO_CLIENT = "Demo returns system"
REMINDER_CANCELLED_BY = ["return.in_transit", "return.received", "return.cancelled"]


def seed_api_client(*, out: TextIO) -> None:
    from returns_mail.models import ApiClient
    from returns_mail.models.api_clients import token_digest
    from returns_mail.services.api_clients import api_client_create, new_token

    token = dev_secret("DEMO_API_TOKEN", new_token)
    client = ApiClient.objects.filter(name=DEMO_CLIENT).first()
    if client is None:
        api_client_create(name=DEMO_CLIENT, scopes=["events:write", "messages:read"], token=token)
    elif client.token_digest != token_digest(token):
        token = "(rotated since: create a new one with `manage.py api_client rotate`)"  # noqa: S105 - a message, not a token
    out.write(f"API token ({DEMO_CLIENT}): {token}\n")


def seed_rules(*, out: TextIO) -> None:
    from providers.models import ProviderAccount, ProviderKind
    from returns_mail.models import RoutingMode, RuleAccount, TriggerRule
    from templates_lib.catalogue import CATALOGUE
    from templates_lib.models import Template

    route = [
        ProviderAccount.objects.filter(kind=kind, is_active=True).order_by("priority").first()
        for kind in (ProviderKind.SENDGRID, ProviderKind.MAILCHIMP_TRANSACTIONAL)
    ]
    route = [account for account in route if account]
    created = 0
    for key, event in CATALOGUE.items():
        template = Template.objects.filter(slug=key.replace(".", "-")).first()
        if template is None or TriggerRule.objects.filter(event_type=key).exists():
            continue
        staff_only = key == "return.exception"
        rule = TriggerRule.objects.create(
            name=f"{event.label} email",
            event_type=key,
            template=template,
            send_to_customer=not staff_only,
            internal_recipients=["warehouse@demo-shop.example"] if staff_only else [],
            delay_minutes=3 * 24 * 60 if key == "return.reminder" else 0,
            cancel_on=REMINDER_CANCELLED_BY if key == "return.reminder" else [],
            routing=RoutingMode.FAILOVER,
        )
        for position, account in enumerate(route):
            RuleAccount.objects.create(rule=rule, account=account, position=position)
        created += 1
    out.write(f"Trigger rules: one per event type ({created} new), SendGrid then Mandrill.\n")


HISTORY_CLIENT = "Demo return history (imported)"
HISTORY_CUSTOMERS = 240
FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dev", "Emma", "Farid", "Greta", "Hiro", "Ines", "Jonas")
LAST_NAMES = ("Lovelace", "Okafor", "Martin", "Patel", "Schmidt", "Haddad", "Berg", "Sato")
REASONS = ("Too small", "Too large", "Damaged", "Changed my mind")


def seed_return_history(*, out: TextIO) -> None:
    """Past returns, as if imported from the returns system: each customer asked for a return
    and was refunded 2 to 90 days ago (events stored directly, so nothing is emailed). Their
    customer records are built from them as the live intake would; 4 in 5 gave marketing
    consent."""
    from returns_mail.models import ApiClient

    if not ApiClient.objects.filter(name=HISTORY_CLIENT).exists():
        _history_create()
    out.write(
        f"Return history: {HISTORY_CUSTOMERS} customers with a refunded return in the last 90 "
        "days (build a segment of them in the admin).\n"
    )


def _history_create() -> None:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from returns_mail.models import ReturnEvent
    from returns_mail.services.api_clients import api_client_create
    from returns_mail.services.customers import customers_apply_events

    now = timezone.now()
    with transaction.atomic():
        client, _ = api_client_create(name=HISTORY_CLIENT, scopes=["events:write"])
        events = []
        for n in range(HISTORY_CUSTOMERS):
            first, last = FIRST_NAMES[n % 10], LAST_NAMES[n % 8]
            email = f"{first.lower()}.{last.lower()}.{n}@demo-customers.example"
            refunded_days_ago = 2 + (n * 7) % 89
            common = {
                "client": client,
                "request_digest": "0" * 64,
                "return_id": f"RMA-H{n:04d}",
                "order_id": f"ORD-H{n:04d}",
                "customer_email": email,
                "customer_name": f"{first} {last}",
                "customer_locale": "de" if n % 6 == 0 else "en",
                "marketing_consent": n % 5 != 0,
            }
            item = {"sku": f"SKU-{n % 40}", "name": "Linen shirt", "quantity": 1}
            item["reason"] = REASONS[n % len(REASONS)]
            amount = f"{19 + (n * 13) % 120}.90"
            events += [
                ReturnEvent(
                    idempotency_key=f"history-{n}-requested",
                    type="return.requested",
                    occurred_at=now - timedelta(days=refunded_days_ago + 2),
                    data={"items": [item]},
                    **common,
                ),
                ReturnEvent(
                    idempotency_key=f"history-{n}-refunded",
                    type="refund.processed",
                    occurred_at=now - timedelta(days=refunded_days_ago),
                    data={"items": [item], "refund": {"amount": amount, "currency": "EUR"}},
                    **common,
                ),
            ]
        created = ReturnEvent.objects.bulk_create(events)
        customers_apply_events(event_ids=[e.pk for e in created])
