from django.db import migrations, models


def bind_stored_passwords(apps, schema_editor):
    """A password stored before this field existed was entered for the account's current
    endpoint (same format as providers.models.smtp_endpoint)."""
    ProviderAccount = apps.get_model("providers", "ProviderAccount")
    fields = ("pk", "smtp_password", "smtp_security", "smtp_host", "smtp_port")
    for account in ProviderAccount.objects.only(*fields).iterator():
        if account.smtp_password:  # decrypted, or the undecryptable ciphertext: either is set
            host = (account.smtp_host or "").strip().lower()
            ProviderAccount.objects.filter(pk=account.pk).update(
                smtp_password_endpoint=f"{account.smtp_security}://{host}:{account.smtp_port}"
            )


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="provideraccount",
            name="smtp_password_endpoint",
            field=models.CharField(blank=True, editable=False, max_length=300),
        ),
        migrations.RunPython(bind_stored_passwords, migrations.RunPython.noop),
    ]
