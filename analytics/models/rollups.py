"""Counters per hour and per day, updated as sends and provider events arrive, so dashboards
read a few thousand rows instead of millions of events.

A message's outcomes count in the hour (and day) it was sent: the cohort of that hour. So
"delivered / (sent - still pending)" is read from one row: pending is what has no outcome yet.
Dimensions are plain ids (0: none) so the unique key has no NULLs, which never collide.

Transactional mail (outbox messages) has campaign_id 0; promotional mail (campaign recipients)
carries its campaign, no return event type and no rule."""

from __future__ import annotations

from django.db import models

# Upper bounds (seconds) of the latency histogram's bins; the last bin is open-ended.
LATENCY_BOUNDS = (
    10,
    30,
    60,
    120,
    300,
    600,
    1_800,
    3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
    7 * 86_400,
)


class Period(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class Rollup(models.Model):
    period = models.CharField(max_length=4, choices=Period.choices)
    bucket = models.DateTimeField(help_text="Start of the hour or day (UTC) the mail was sent.")
    account_id = models.BigIntegerField(default=0)
    event_type = models.CharField(max_length=64, blank=True)
    rule_id = models.BigIntegerField(default=0)
    template_id = models.BigIntegerField(default=0)
    campaign_id = models.BigIntegerField(default=0, help_text="0: transactional mail.")

    sent = models.PositiveIntegerField(default=0, help_text="Handed to the provider.")
    failed = models.PositiveIntegerField(default=0, help_text="Refused at send time.")
    delivered = models.PositiveIntegerField(default=0)
    bounced_hard = models.PositiveIntegerField(default=0)
    bounced_soft = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0, help_text="Dropped by the provider.")
    deferred = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0, help_text="Messages opened (unique).")
    clicked = models.PositiveIntegerField(default=0, help_text="Messages clicked (unique).")
    complained = models.PositiveIntegerField(default=0)
    unsubscribed = models.PositiveIntegerField(default=0)
    # Every open event reported (not unique), and those of them no person made: the share of
    # machine opens. `opened` counts people only.
    open_events = models.PositiveIntegerField(default=0, help_text="Open events, all.")
    machine_opens = models.PositiveIntegerField(default=0, help_text="Open events by machines.")

    COUNTERS = (
        "sent",
        "failed",
        "delivered",
        "bounced_hard",
        "bounced_soft",
        "rejected",
        "deferred",
        "opened",
        "clicked",
        "complained",
        "unsubscribed",
        "open_events",
        "machine_opens",
    )
    DIMENSIONS = (
        "period",
        "bucket",
        "account_id",
        "event_type",
        "rule_id",
        "template_id",
        "campaign_id",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "period",
                    "bucket",
                    "account_id",
                    "event_type",
                    "rule_id",
                    "template_id",
                    "campaign_id",
                ],
                name="one_rollup_per_bucket_and_dimensions",
            )
        ]
        indexes = [
            models.Index(fields=["period", "bucket"]),
            # The campaigns page reads its campaigns' rows whatever their bucket.
            models.Index(fields=["campaign_id", "period"]),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.bucket:%Y-%m-%d %H:00} account {self.account_id}"


class LatencyBin(models.Model):
    """How many messages took how long, in histogram bins (LATENCY_BOUNDS): medians and p90s
    are read from the bins, since they cannot be added up like counters.

    `response`: delivered (or sent, where the provider reports no delivery) → the customer's
    first action, a click or a reply. `open`: the same start → first human open. `lead`: the
    return event occurred → delivered (how long the customer waited)."""

    class Metric(models.TextChoices):
        RESPONSE = "response", "Customer response time"
        OPEN = "open", "First open (human)"
        LEAD = "lead", "Notification lead time"

    period = models.CharField(max_length=4, choices=Period.choices)
    bucket = models.DateTimeField()
    account_id = models.BigIntegerField(default=0)
    event_type = models.CharField(max_length=64, blank=True)
    campaign_id = models.BigIntegerField(default=0, help_text="0: transactional mail.")
    metric = models.CharField(max_length=8, choices=Metric.choices)
    bin = models.PositiveSmallIntegerField(help_text="Index into LATENCY_BOUNDS (last: above).")
    count = models.PositiveIntegerField(default=0)

    DIMENSIONS = ("period", "bucket", "account_id", "event_type", "campaign_id", "metric", "bin")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "period",
                    "bucket",
                    "account_id",
                    "event_type",
                    "campaign_id",
                    "metric",
                    "bin",
                ],
                name="one_latency_bin_per_bucket_and_dimensions",
            )
        ]
        indexes = [models.Index(fields=["period", "bucket"])]

    def __str__(self) -> str:
        return f"{self.metric} bin {self.bin} {self.period} {self.bucket:%Y-%m-%d %H:00}"
