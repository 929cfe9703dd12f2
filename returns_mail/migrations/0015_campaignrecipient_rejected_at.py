from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0014_event_customer_applied"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaignrecipient",
            name="rejected_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
