from django.db import migrations, models
from django.db.models import F


def clicks_were_responses(apps, schema_editor):
    """A message clicked before the field existed has responded (at its first click): a later
    reply or click must not count its response time again."""
    Message = apps.get_model("returns_mail", "Message")
    Message.objects.filter(clicked_at__isnull=False).update(responded_at=F("clicked_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0024_campaign_recipient_email_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="responded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(clicks_were_responses, migrations.RunPython.noop),
    ]
