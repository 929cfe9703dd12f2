"""Demo data of this app, loaded by `manage.py demo`: the staff logins for each role, an API
client with a token printed every run, and a trigger rule per event type."""

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
    from returns_mail.catalogue import CATALOGUE
    from returns_mail.models import RoutingMode, RuleAccount, TriggerRule
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
