"""Drill-downs: the most recent messages of a slice, recent failures (failed or bounced
messages, failed health checks), and recent campaigns. Newest first, capped: these lists are
for reading, not export of the whole history."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from analytics.models import HealthCheck
from analytics.selectors.filters import PROMOTIONAL, TRANSACTIONAL, MetricFilters
from returns_mail.models import Campaign, Message, MessageStatus

RECENT_LIMIT = 100
FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.BOUNCED)

# What the pages show of a message and its relations (never an account's secrets).
_MESSAGE_FIELDS = (
    "id",
    "recipient",
    "status",
    "status_changed_at",
    "created_at",
    "sent_at",
    "delivered_at",
    "opened_at",
    "clicked_at",
    "error",
    "event__type",
    "event__return_id",
    "account__name",
    "account__kind",
    "rule__name",
    "template_version__number",
    "template_version__template__name",
)


def _messages(filters: MetricFilters) -> QuerySet[Message]:
    """Messages of the filters' slice: sent in the period (or, not sent, created in it).
    Outbox messages are the transactional mail: none when the filters ask for promotional."""
    if filters.mail == PROMOTIONAL:
        return Message.objects.none()
    sent_in = Q(sent_at__gte=filters.start, sent_at__lt=filters.end)
    created_in = Q(sent_at__isnull=True, created_at__gte=filters.start, created_at__lt=filters.end)
    messages = (
        Message.objects.filter(sent_in | created_in)
        .select_related("event", "account", "rule", "template_version__template")
        .only(*_MESSAGE_FIELDS)
    )
    return filters.narrow(
        messages,
        event_type="event__type",
        rule="rule_id",
        template="template_version__template_id",
    )


def recent_messages(filters: MetricFilters, *, limit: int = RECENT_LIMIT) -> list[Message]:
    """The slice's newest messages (by creation), newest first."""
    return list(_messages(filters).order_by("-created_at", "-id")[:limit])


def recent_failed_messages(filters: MetricFilters, *, limit: int = RECENT_LIMIT) -> list[Message]:
    """Failed and bounced messages of the slice, the latest status change first."""
    failed = _messages(filters).filter(status__in=FAILED_STATUSES)
    return list(failed.order_by("-status_changed_at", "-id")[:limit])


def recent_failed_checks(filters: MetricFilters, *, limit: int = RECENT_LIMIT) -> list[HealthCheck]:
    """Failed health checks in the period, newest first: provider accounts the filters allow,
    and the intake API's own when no provider or account is chosen."""
    checks = (
        HealthCheck.objects.filter(
            ok=False, checked_at__gte=filters.start, checked_at__lt=filters.end
        )
        .select_related("account")
        .only(
            "id",
            "component",
            "checked_at",
            "latency_ms",
            "detail",
            "account__name",
            "account__kind",
        )
    )
    return list(filters.narrow(checks).order_by("-checked_at", "-id")[:limit])


def recent_campaigns(filters: MetricFilters, *, limit: int = RECENT_LIMIT) -> list[Campaign]:
    """Campaigns started in the period (on the filters' provider / account; a promotional
    template, whatever the template filter), newest first; none for transactional mail."""
    if filters.mail == TRANSACTIONAL:
        return []
    started = Campaign.objects.filter(
        started_at__gte=filters.start, started_at__lt=filters.end
    ).select_related("account", "segment")
    return list(filters.narrow(started).order_by("-started_at", "-id")[:limit])
