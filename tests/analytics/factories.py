"""Rows with known numbers for the dashboard tests: rollups, latency bins, health checks,
attempts, messages (with their event, rule and template), and the dashboard users. Everything is
written directly: nothing is sent or received."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from analytics.models import HealthCheck, HealthComponent, LatencyBin, Period, Rollup
from providers.models import ProviderAccount
from returns_mail.models import Attempt, Message, ReturnEvent, TriggerRule
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.api_clients import api_client_create
from templates_lib.models import Layout, Template, TemplateVersion

PASSWORD = "a-long-test-password-42"
_numbers = count(1)


def account(kind: str, name: str | None = None, **fields) -> ProviderAccount:
    fields.setdefault("from_email", "returns@shop.example")
    return ProviderAccount.objects.create(
        name=name or f"{kind} {next(_numbers)}", kind=kind, **fields
    )


def _id(value) -> int:
    return getattr(value, "pk", value) or 0


def rollup(
    bucket: datetime,
    *,
    period: str = Period.HOUR,
    account=0,
    event_type: str = "refund.processed",
    rule=0,
    template=0,
    **counters: int,
) -> Rollup:
    return Rollup.objects.create(
        period=period,
        bucket=bucket,
        account_id=_id(account),
        event_type=event_type,
        rule_id=_id(rule),
        template_id=_id(template),
        **counters,
    )


def bins(
    bucket: datetime,
    metric: str,
    counts: dict[int, int],
    *,
    period: str = Period.HOUR,
    account=0,
    event_type: str = "refund.processed",
    campaign_id: int = 0,
) -> None:
    LatencyBin.objects.bulk_create(
        LatencyBin(
            period=period,
            bucket=bucket,
            account_id=_id(account),
            event_type=event_type,
            campaign_id=campaign_id,
            metric=metric,
            bin=index,
            count=n,
        )
        for index, n in counts.items()
    )


def check(
    at: datetime,
    ok: bool,
    *,
    account=None,
    component: str = HealthComponent.PROVIDER,
    latency_ms: float | None = 120.0,
    detail: str = "",
) -> HealthCheck:
    return HealthCheck.objects.create(
        component=component,
        account=account,
        checked_at=at,
        ok=ok,
        latency_ms=latency_ms,
        detail=detail,
    )


class Outbox:
    """Templates, rules and events to hang messages on (created once per test)."""

    def __init__(self):
        self.client, _ = api_client_create(
            name=f"analytics {next(_numbers)}", scopes=["events:write"]
        )
        self.layout = Layout.objects.create(
            name=f"layout {next(_numbers)}", html="{{body}}", brand_name="Shop"
        )
        self.templates: dict[str, Template] = {}
        self.versions: dict[str, TemplateVersion] = {}
        self.rules: dict[str, TriggerRule] = {}
        self.events: dict[str, ReturnEvent] = {}

    def template(self, name: str) -> Template:
        if name not in self.templates:
            template = Template.objects.create(
                name=name,
                slug=f"t-{next(_numbers)}",
                layout=self.layout,
                subject="Hi",
                html="<p>Hi</p>",
            )
            self.templates[name] = template
            self.versions[name] = TemplateVersion.objects.create(
                template=template,
                number=1,
                contents={"en": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
                default_locale="en",
                layout=self.layout,
                content_hash="0" * 64,
            )
        return self.templates[name]

    def rule(self, name: str, *, event_type: str = "refund.processed", template: str = "Refund"):
        if name not in self.rules:
            self.rules[name] = TriggerRule.objects.create(
                name=name, event_type=event_type, template=self.template(template)
            )
        return self.rules[name]

    def event(self, event_type: str) -> ReturnEvent:
        if event_type not in self.events:
            self.events[event_type] = ReturnEvent.objects.create(
                client=self.client,
                idempotency_key=f"key-{next(_numbers)}",
                request_digest="0" * 64,
                type=event_type,
                occurred_at=timezone.now(),
                return_id=f"RMA-{1001 + len(self.events)}",
                customer_email="ada@example.com",
            )
        return self.events[event_type]

    def message(
        self,
        *,
        rule: str = "Refund email",
        event_type: str = "refund.processed",
        template: str = "Refund",
        account: ProviderAccount | None = None,
        status: str = "sent",
        created_at: datetime | None = None,
        **fields,
    ) -> Message:
        the_rule = self.rule(rule, event_type=event_type, template=template)
        self.template(template)
        message = Message.objects.create(
            event=self.event(event_type),
            rule=the_rule,
            recipient=fields.pop("recipient", None) or f"customer{next(_numbers)}@example.com",
            template_version=self.versions[template],
            send_after=timezone.now(),
            account=account,
            status=status,
            **fields,
        )
        stamps = {}
        if created_at is not None:
            stamps["created_at"] = created_at
        if "status_changed_at" in fields:
            stamps["status_changed_at"] = fields["status_changed_at"]
        if stamps:  # auto_now_add fields: set afterwards
            Message.objects.filter(pk=message.pk).update(**stamps)
            message.refresh_from_db()
        return message

    def attempt(self, message: Message, *, started_at: datetime, duration_ms: float, **fields):
        return Attempt.objects.create(
            message=message,
            account=fields.pop("account", message.account),
            started_at=started_at,
            duration_ms=duration_ms,
            outcome=fields.pop("outcome", "sent"),
            **fields,
        )


def user(username: str, *, role: str | None = None, is_staff: bool = False):
    person = get_user_model().objects.create_user(
        username=username, password=PASSWORD, is_staff=is_staff
    )
    if role:
        person.groups.add(Group.objects.get(name=role))
    return person


def manager(username: str = "manager", **fields):
    return user(username, role=MANAGERS, **fields)


def it_admin(username: str = "itadmin"):
    return user(username, role=IT_ADMINS, is_staff=True)


# --- The fixed data set of the metric and dashboard tests -------------------------------------

_H10 = datetime(2026, 11, 20, 10, tzinfo=UTC)
_H11 = datetime(2026, 11, 20, 11, tzinfo=UTC)
RESPONSE, LEAD = LatencyBin.Metric.RESPONSE, LatencyBin.Metric.LEAD


def both(moment: datetime, **fields) -> None:
    """A cohort counted as the rollup writer does: in its hour and in its day."""
    rollup(moment, period=Period.HOUR, **fields)
    rollup(moment.replace(hour=0), period=Period.DAY, **fields)


def metric_data() -> dict:
    """SendGrid 100 sent at 10:00, Mailchimp Marketing 40 at 10:00, Mandrill 60 at 11:00 on
    2026-11-20, with rows just outside the day that must never count.

    Pending is sent - delivered - bounced - rejected (failed were never sent): SendGrid 4,
    Mailchimp Marketing 8. Mandrill reports no delivery, so its delivered is what it sent and
    did not bounce or reject (60 - 1 - 1 = 58) and nothing of it is pending."""
    sg = account("sendgrid", "SendGrid main")
    mc = account("mailchimp_marketing", "Mailchimp audience")
    md = account("mailchimp_transactional", "Mandrill")
    outbox = Outbox()
    refund = outbox.rule("Refund email", event_type="refund.processed", template="Refund")
    approval = outbox.rule("Approval email", event_type="return.approved", template="Approval")
    t_refund, t_approval = outbox.templates["Refund"], outbox.templates["Approval"]
    both(
        _H10,
        account=sg,
        event_type="refund.processed",
        rule=refund,
        template=t_refund,
        sent=100,
        delivered=90,
        bounced_hard=3,
        bounced_soft=2,
        rejected=1,
        deferred=4,
        opened=45,
        clicked=18,
        complained=1,
        unsubscribed=2,
    )
    both(
        _H10,
        account=mc,
        event_type="return.approved",
        rule=approval,
        template=t_approval,
        sent=40,
        delivered=30,
        bounced_hard=2,
        failed=2,
        opened=12,
        clicked=3,
        unsubscribed=1,
    )
    both(
        _H11,
        account=md,
        event_type="refund.processed",
        rule=refund,
        template=t_refund,
        sent=60,
        bounced_hard=1,
        bounced_soft=1,
        opened=30,
        clicked=6,
        complained=1,
    )
    # Outside the day: the hour before and the hour after.
    rollup(datetime(2026, 11, 19, 23, tzinfo=UTC), account=sg, sent=500, delivered=500)
    rollup(datetime(2026, 11, 21, 0, tzinfo=UTC), account=sg, sent=1000, delivered=1000)
    # Two days earlier (daily only).
    rollup(datetime(2026, 11, 18, tzinfo=UTC), period=Period.DAY, account=sg, sent=10, delivered=10)

    bins(_H10, RESPONSE, {0: 2, 1: 4}, account=sg)
    bins(_H11, RESPONSE, {2: 4}, account=md)
    bins(_H10, LEAD, {3: 1, 4: 1}, account=sg)
    bins(datetime(2026, 11, 21, tzinfo=UTC), RESPONSE, {13: 100}, account=sg)
    return {
        "sg": sg,
        "mc": mc,
        "md": md,
        "refund": refund,
        "approval": approval,
        "t_refund": t_refund,
        "t_approval": t_approval,
        "outbox": outbox,
    }


def campaign(account, name: str, template, *, started_at: datetime, total: int):
    """A finished campaign row (its counts are the rollups written beside it)."""
    from returns_mail.models import Campaign
    from returns_mail.services.segments import segment_create

    segment = segment_create(name=f"segment {next(_numbers)}", conditions=[])
    return Campaign.objects.create(
        name=name,
        segment=segment,
        template=template,
        account=account,
        status="finished",
        total=total,
        started_at=started_at,
        finished_at=started_at,
    )


def campaign_data(data: dict | None = None) -> dict:
    """metric_data() plus two campaigns sent at 10:00 on 2026-11-20, on the same accounts:

    - "Autumn sale" on SendGrid: 20 sent, 15 delivered, 1 bounced (soft), 1 dropped, so 3
      pending; 6 unique opens, 2 clicks, 1 unsubscribe; 1 failed at send.
    - "Spring offer" on Mailchimp Marketing: 57 sent and nothing reported (its audience
      webhooks name no campaign): 57 not reported.

    All mail of the day: 277 sent = 193 delivered + 15 pending + 10 bounced + 2 dropped + 57
    not reported; 3 failed at send."""
    data = data or metric_data()
    promo = data["outbox"].template("Offer")
    autumn = campaign(data["sg"], "Autumn sale", promo, started_at=_H10, total=21)
    spring = campaign(data["mc"], "Spring offer", promo, started_at=_H10, total=57)
    both(
        _H10,
        account=data["sg"],
        event_type="",
        template=promo,
        campaign_id=autumn.pk,
        sent=20,
        failed=1,
        delivered=15,
        bounced_soft=1,
        rejected=1,
        opened=6,
        clicked=2,
        unsubscribed=1,
    )
    both(_H10, account=data["mc"], event_type="", template=promo, campaign_id=spring.pk, sent=57)
    bins(_H10, RESPONSE, {5: 2}, account=data["sg"], event_type="", campaign_id=autumn.pk)
    return {**data, "promo": promo, "autumn": autumn, "spring": spring}
