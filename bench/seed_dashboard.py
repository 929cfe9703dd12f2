"""`python -m bench.seed_dashboard EVENTS [CHECK_EVERY]`: a busy month for the dashboard
benchmark, stored directly (the pipeline that normally writes these rows is measured by `bench
webhooks`).

Two accounts (SendGrid, Mailchimp Transactional) send messages over the last 30 days across
every catalogue event type until EVENTS delivery events are stored (about 2.2 a message:
queued or sent, delivered, opened, clicked, some bounces); each message gets one attempt, and
the hourly/daily rollups and latency bins those events would have produced are stored, with a
credential check per account per minute (every CHECK_EVERY minutes). Two promotional campaigns
(SendGrid, and Mailchimp Marketing, which reports nothing per email) add their rollups, one
recipient per 40 events.
Prints {"session": <a logged-in manager's session key>} as JSON."""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter, defaultdict
from datetime import timedelta


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from analytics.models import DeliveryEvent, HealthCheck, LatencyBin, Rollup, WebhookDelivery
    from analytics.services.rollups import day_of, hour_of, latency_bin
    from providers.models import ProviderAccount
    from returns_mail.models import ApiClient, Attempt, Message, ReturnEvent, TriggerRule
    from returns_mail.roles import MANAGERS
    from templates_lib.catalogue import CATALOGUE
    from templates_lib.models import Template
    from templates_lib.services.defaults import defaults_install

    rng = random.Random(20261126)  # noqa: S311 - synthetic data
    target_events = int(sys.argv[1])
    check_every = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    now = timezone.now().replace(microsecond=0)
    defaults_install()
    client = ApiClient.objects.create(name="dashboard bench", scopes=[], token_digest="-" * 64)
    accounts = [
        ProviderAccount.objects.create(
            name=f"Bench {kind}", kind=kind, from_email="returns@bench.example", api_key="k"
        )
        for kind in ("sendgrid", "mailchimp_transactional")
    ]
    templates = {t.event_types[0]: t for t in Template.objects.all() if t.event_types}
    rules = {}
    for event_type in CATALOGUE:
        template = templates.get(event_type) or next(iter(templates.values()))
        rules[event_type] = TriggerRule.objects.create(
            name=f"bench {event_type}", event_type=event_type, template=template
        )
    deliveries = {a.pk: WebhookDelivery.objects.create(account=a, body="[]") for a in accounts}

    counters: dict[tuple, Counter] = defaultdict(Counter)
    bins: Counter = Counter()
    chunk, start, stored_events = 5_000, 0, 0
    while stored_events < target_events:
        # About 2.2 events a message: size the last chunk to land near the target.
        size = max(1, min(chunk, int((target_events - stored_events) / 2.2) + 1))
        plans = []
        for i in range(start, start + size):
            account = accounts[i % 2]
            event_type = rng.choice(list(CATALOGUE))
            sent_at = now - timedelta(seconds=rng.uniform(0, 30 * 86_400))
            plans.append((i, account, event_type, sent_at))
        events = ReturnEvent.objects.bulk_create(
            [
                ReturnEvent(
                    client=client,
                    idempotency_key=f"d{i}",
                    request_digest="-",
                    type=event_type,
                    occurred_at=sent_at - timedelta(seconds=2),
                    return_id=f"RMA-D{i}",
                    customer_email=f"c{i}@example.com",
                )
                for i, _, event_type, sent_at in plans
            ]
        )
        messages = []
        for event, (_, account, event_type, sent_at) in zip(events, plans, strict=True):
            rule = rules[event_type]
            messages.append(
                Message(
                    event=event,
                    rule=rule,
                    recipient=event.customer_email,
                    template_version=rule.template.active_version,
                    send_after=sent_at,
                    status="sent",
                    sent_at=sent_at,
                    account=account,
                )
            )
        Message.objects.bulk_create(messages)
        attempts, delivery_events = [], []
        for message, (_, account, event_type, sent_at) in zip(messages, plans, strict=True):
            attempts.append(
                Attempt(
                    message=message,
                    account=account,
                    started_at=sent_at,
                    duration_ms=rng.lognormvariate(4.0, 0.4),
                    outcome="sent",
                )
            )
            dims = (account.pk, event_type, message.rule_id, message.rule.template_id, 0)
            keys = [
                ("hour", hour_of(sent_at), *dims),
                ("day", day_of(sent_at), *dims),
            ]
            mandrill = account.kind == "mailchimp_transactional"
            steps = [("sent" if mandrill else "queued", "", 1)]
            draw = rng.random()
            if draw < 0.03:
                steps.append(("bounced", "hard", 20))
                outcome = "bounced_hard"
            else:
                if not mandrill:
                    steps.append(("delivered", "", 5))
                outcome = "delivered"
                if rng.random() < 0.5:
                    opened_after = rng.expovariate(1 / 3600)
                    steps.append(("opened", "", opened_after))
                    if rng.random() < 0.4:
                        steps.append(("clicked", "", opened_after + 30))
            for event_kind, bounce_kind, after in steps:
                delivery_events.append(
                    DeliveryEvent(
                        fingerprint=f"{message.correlation_id}-{event_kind}",
                        delivery=deliveries[account.pk],
                        account=account,
                        message=message,
                        type=event_kind,
                        provider_event=event_kind,
                        bounce_kind=bounce_kind,
                        recipient=message.recipient,
                        occurred_at=sent_at + timedelta(seconds=after),
                    )
                )
            kinds = {kind for kind, _, _ in steps}
            for key in keys:
                counters[key]["sent"] += 1
                if outcome == "bounced_hard":
                    counters[key]["bounced_hard"] += 1
                elif not mandrill:
                    counters[key]["delivered"] += 1
                counters[key]["opened"] += "opened" in kinds
                counters[key]["clicked"] += "clicked" in kinds
                if not mandrill and outcome == "delivered":
                    bins[(key[0], key[1], account.pk, event_type, 0, "lead", latency_bin(7))] += 1
                if "opened" in kinds:
                    opened = next(a for k, _, a in steps if k == "opened")
                    index = latency_bin(opened - (0 if mandrill else 5))
                    bins[(key[0], key[1], account.pk, event_type, 0, "response", index)] += 1
        Attempt.objects.bulk_create(attempts)
        delivery_events = delivery_events[: target_events - stored_events]
        DeliveryEvent.objects.bulk_create(delivery_events, batch_size=5_000)
        stored_events += len(delivery_events)
        start += size
    _campaigns(counters, bins, now, target_events // 40, rng)
    Rollup.objects.bulk_create(
        [
            Rollup(**dict(zip(Rollup.DIMENSIONS, key, strict=True)), **counts)
            for key, counts in counters.items()
        ],
        batch_size=5_000,
    )
    LatencyBin.objects.bulk_create(
        [
            LatencyBin(**dict(zip(LatencyBin.DIMENSIONS, key, strict=True)), count=count)
            for key, count in bins.items()
        ],
        batch_size=5_000,
    )
    checks = [
        HealthCheck(
            component="provider",
            account=account,
            checked_at=now - timedelta(minutes=minute),
            ok=rng.random() > 0.002,
            latency_ms=rng.lognormvariate(4.0, 0.3),
        )
        for minute in range(0, 30 * 24 * 60, check_every)
        for account in accounts
    ] + [
        HealthCheck(
            component="intake", checked_at=now - timedelta(minutes=minute), ok=True, latency_ms=2
        )
        for minute in range(0, 30 * 24 * 60, check_every)
    ]
    HealthCheck.objects.bulk_create(checks, batch_size=10_000)

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as a database in service has them
    manager = User.objects.create_user("bench-manager", password=None, is_staff=False)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    session = SessionStore()
    session[SESSION_KEY] = str(manager.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = manager.get_session_auth_hash()
    session.create()
    print(
        json.dumps(
            {
                "session": session.session_key,
                "delivery_events": DeliveryEvent.objects.count(),
                "rollups": Rollup.objects.count(),
            }
        )
    )


def _campaigns(counters, bins, now, recipients: int, rng) -> None:
    """A SendGrid and a Mailchimp Marketing campaign of `recipients` each, counted into
    `counters` and `bins` as the webhooks would have: most SendGrid mail delivered, some
    bounced, dropped or pending; nothing reported by Mailchimp Marketing."""
    from analytics.services.rollups import day_of, hour_of, latency_bin
    from providers.models import ProviderAccount
    from returns_mail.models import Campaign
    from returns_mail.services.segments import segment_create
    from templates_lib.models import Template

    segment = segment_create(name="bench everyone", conditions=[])
    template = Template.objects.order_by("pk").first()
    for kind, days_ago in (("sendgrid", 3), ("mailchimp_marketing", 10)):
        account = ProviderAccount.objects.filter(kind=kind).first() or (
            ProviderAccount.objects.create(
                name=f"Bench {kind}", kind=kind, from_email="returns@bench.example", api_key="k"
            )
        )
        started = now - timedelta(days=days_ago)
        campaign = Campaign.objects.create(
            name=f"Bench {kind} campaign",
            segment=segment,
            template=template,
            account=account,
            status="finished",
            total=recipients,
            started_at=started,
            finished_at=started,
        )
        for n in range(recipients):
            sent_at = started + timedelta(seconds=n % 3_600)
            keys = [
                (period, bucket, account.pk, "", 0, template.pk, campaign.pk)
                for period, bucket in (("hour", hour_of(sent_at)), ("day", day_of(sent_at)))
            ]
            outcome = None
            if kind == "sendgrid":
                draw = rng.random()
                outcome = (
                    "bounced_hard" if draw < 0.02 else "rejected" if draw < 0.03 else "delivered"
                )
                if draw > 0.99:
                    outcome = None  # still pending
            opened = outcome == "delivered" and rng.random() < 0.3
            for key in keys:
                counters[key]["sent"] += 1
                if outcome:
                    counters[key][outcome] += 1
                if opened:
                    counters[key]["opened"] += 1
                    index = latency_bin(rng.expovariate(1 / 7_200))
                    bins[(key[0], key[1], account.pk, "", campaign.pk, "response", index)] += 1


if __name__ == "__main__":
    main()
