"""Campaign mail in the rollups: a campaign dimension (0: transactional mail), and the counts of
the campaign recipients sent before it, rebuilt from their rows (the live code counts them as
they are sent and as the providers report on them from now on)."""

import bisect
from collections import Counter, defaultdict

from django.db import migrations, models

# As analytics.models.rollups.LATENCY_BOUNDS when this migration was written.
LATENCY_BOUNDS = (10, 30, 60, 120, 300, 600, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400)
LATENCY_BOUNDS += (2 * 86_400, 7 * 86_400)


def _buckets(moment):
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return (("hour", hour), ("day", hour.replace(hour=0)))


def count_campaign_recipients(apps, schema_editor):
    db = schema_editor.connection.alias
    Recipient = apps.get_model("returns_mail", "CampaignRecipient")
    Rollup = apps.get_model("analytics", "Rollup")
    LatencyBin = apps.get_model("analytics", "LatencyBin")
    counters = defaultdict(Counter)
    bins = Counter()
    rows = (
        Recipient.objects.using(db)
        .filter(status__in=("sent", "failed"))
        .values_list(
            "status",
            "sent_at",
            "delivered_at",
            "bounced_at",
            "opened_at",
            "clicked_at",
            "unsubscribed_at",
            "campaign_id",
            "campaign__account_id",
            "campaign__template_id",
            "campaign__started_at",
            "campaign__created_at",
        )
    )
    for row in rows.iterator(chunk_size=5_000):
        status, sent_at, delivered, bounced, opened, clicked, unsubscribed = row[:7]
        campaign, account, template, started, created = row[7:]
        moment = sent_at or started or created
        found = []
        if status == "failed":
            found.append("failed")
        else:
            found.append("sent")
            # One outcome: the first reported (a bounce's kind was not kept: counted hard).
            outcomes = [
                (t, n) for t, n in ((delivered, "delivered"), (bounced, "bounced_hard")) if t
            ]
            if outcomes:
                found.append(min(outcomes)[1])
            found += [name for t, name in ((opened, "opened"), (clicked, "clicked")) if t]
            if unsubscribed:
                found.append("unsubscribed")
        engaged = min((t for t in (opened, clicked) if t), default=None)
        base = delivered or sent_at
        for period, bucket in _buckets(moment):
            key = (period, bucket, account, "", 0, template, campaign)
            counters[key].update(found)
            if status == "sent" and engaged and base:
                seconds = max(0.0, (engaged - base).total_seconds())
                index = bisect.bisect_left(LATENCY_BOUNDS, seconds)
                bins[(period, bucket, account, "", campaign, "response", index)] += 1
    dimensions = ("period", "bucket", "account_id", "event_type", "rule_id", "template_id")
    Rollup.objects.using(db).bulk_create(
        [
            Rollup(**dict(zip((*dimensions, "campaign_id"), key, strict=True)), **counts)
            for key, counts in counters.items()
        ],
        batch_size=1_000,
    )
    dimensions = ("period", "bucket", "account_id", "event_type", "campaign_id", "metric", "bin")
    LatencyBin.objects.using(db).bulk_create(
        [LatencyBin(**dict(zip(dimensions, key, strict=True)), count=n) for key, n in bins.items()],
        batch_size=1_000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_retention_schedule"),
        ("returns_mail", "0015_campaignrecipient_rejected_at"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="latencybin",
            name="one_latency_bin_per_bucket_and_dimensions",
        ),
        migrations.RemoveConstraint(
            model_name="rollup",
            name="one_rollup_per_bucket_and_dimensions",
        ),
        migrations.AddField(
            model_name="latencybin",
            name="campaign_id",
            field=models.BigIntegerField(default=0, help_text="0: transactional mail."),
        ),
        migrations.AddField(
            model_name="rollup",
            name="campaign_id",
            field=models.BigIntegerField(default=0, help_text="0: transactional mail."),
        ),
        migrations.AddIndex(
            model_name="rollup",
            index=models.Index(
                fields=["campaign_id", "period"], name="analytics_r_campaig_d80209_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="latencybin",
            constraint=models.UniqueConstraint(
                fields=(
                    "period",
                    "bucket",
                    "account_id",
                    "event_type",
                    "campaign_id",
                    "metric",
                    "bin",
                ),
                name="one_latency_bin_per_bucket_and_dimensions",
            ),
        ),
        migrations.AddConstraint(
            model_name="rollup",
            constraint=models.UniqueConstraint(
                fields=(
                    "period",
                    "bucket",
                    "account_id",
                    "event_type",
                    "rule_id",
                    "template_id",
                    "campaign_id",
                ),
                name="one_rollup_per_bucket_and_dimensions",
            ),
        ),
        migrations.RunPython(count_campaign_recipients, migrations.RunPython.noop),
    ]
