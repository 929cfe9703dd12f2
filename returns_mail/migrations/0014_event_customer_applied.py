from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0013_message_looked_up_at"),
    ]

    operations = [
        # Events stored before this migration had their customers applied by then: the column
        # is added as True for them, and new events start False.
        migrations.AddField(
            model_name="returnevent",
            name="customer_applied",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="returnevent",
            name="customer_applied",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="returnevent",
            index=models.Index(
                condition=models.Q(("customer_applied", False)),
                fields=["received_at"],
                name="event_customer_pending",
            ),
        ),
    ]
