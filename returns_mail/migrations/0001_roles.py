from django.db import migrations


def create_role_groups(apps, schema_editor):
    from returns_mail.services.roles import roles_sync

    # Permissions of models created in this same migrate run do not exist yet; the post_migrate
    # hook (ReturnsMailConfig.ready) runs roles_sync again once Django has created them.
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_role_groups, migrations.RunPython.noop),
    ]
