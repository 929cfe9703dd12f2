"""The two alert rules the mailbox providers' bulk-sender rules make compulsory, present from the
start rather than left for an IT admin to remember: the spam-complaint rate over 0.1 % of a
day's delivered mail (Gmail's advice; 0.3 % is the limit), and a sender-authentication check
(SPF, DKIM, DMARC) starting to fail. Alerts go to the IT admins' emails until recipients are
set; an IT admin may tune or disable them, and a name already taken is left alone."""

from django.db import migrations

RULES = [
    {
        "name": "Spam-complaint rate over 0.1% in 24 hours",
        "kind": "complaint_rate",
        "threshold": 0.1,
        "window_minutes": 24 * 60,
        # 0.1 % of fewer mails is a single complaint: judged from 1,000 delivered.
        "min_volume": 1000,
    },
    {
        "name": "Sender authentication check failing",
        "kind": "sender_auth",
        "threshold": 0,
        "window_minutes": 24 * 60,
        "min_volume": 0,
    },
]


def create_rules(apps, schema_editor):
    AlertRule = apps.get_model("analytics", "AlertRule")
    for rule in RULES:
        fields = dict(rule)
        AlertRule.objects.using(schema_editor.connection.alias).get_or_create(
            name=fields.pop("name"), defaults=fields
        )


def delete_rules(apps, schema_editor):
    AlertRule = apps.get_model("analytics", "AlertRule")
    AlertRule.objects.using(schema_editor.connection.alias).filter(
        name__in=[rule["name"] for rule in RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("analytics", "0009_complaint_rate_and_sender_auth_alerts")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
