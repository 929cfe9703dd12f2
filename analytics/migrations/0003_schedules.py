from django.db import migrations

SCHEDULES = {
    "analytics: health checks and uptime": "analytics.tasks.run_health_checks",
    "analytics: evaluate alert rules": "analytics.tasks.evaluate_alerts",
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.using(schema_editor.connection.alias).get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",  # every `minutes`
                "minutes": 1,
                "repeats": -1,
            },
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_delivery_tracking"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
