"""Each message keeps the status it was accepted with, so a repeated request's answer is read
back from the messages instead of a copy stored on the event (which cost an UPDATE per event)."""

from django.db import migrations, models

STATUS_CHOICES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("bounced", "Bounced"),
    ("failed", "Failed"),
    ("suppressed", "Suppressed"),
    ("cancelled", "Cancelled"),
    ("ambiguous", "Held: provider may have accepted it"),
]


def carry_over_accepted_statuses(apps, schema_editor):
    """Statuses from the stored answers; a message whose answer said "suppressed" keeps it."""
    ReturnEvent = apps.get_model("returns_mail", "ReturnEvent")
    Message = apps.get_model("returns_mail", "Message")
    suppressed = [
        entry["id"]
        for response in ReturnEvent.objects.exclude(response={})
        .values_list("response", flat=True)
        .iterator()
        for entry in response.get("messages", [])
        if entry.get("status") == "suppressed"
    ]
    for start in range(0, len(suppressed), 500):
        Message.objects.filter(pk__in=suppressed[start : start + 500]).update(
            accepted_status="suppressed"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0003_sweep_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="accepted_status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="queued", editable=False, max_length=12
            ),
        ),
        migrations.RunPython(carry_over_accepted_statuses, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="returnevent",
            name="response",
        ),
    ]
