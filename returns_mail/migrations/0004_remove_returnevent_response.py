"""A repeated request's answer is read back from the event's messages instead of a copy stored
on the event, which cost an UPDATE per event."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0003_sweep_schedule"),
    ]

    operations = [
        migrations.RemoveField(model_name="returnevent", name="response"),
    ]
