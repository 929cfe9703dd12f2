from django.db import migrations

SCHEDULES = {
    "returns_mail: import the providers' suppression lists": {
        "func": "returns_mail.tasks.import_suppressions_all",
        "schedule_type": "D",  # daily
        "repeats": -1,
    },
    "returns_mail: mirror unsubscribes to the providers": {
        "func": "returns_mail.tasks.mirror_unsubscribes",
        "schedule_type": "I",  # every `minutes`
        "minutes": 1,
        "repeats": -1,
    },
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, fields in SCHEDULES.items():
        Schedule.objects.using(schema_editor.connection.alias).get_or_create(
            name=name, defaults=fields
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("returns_mail", "0019_suppression_imports_and_mirroring"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
