"""An index on LOWER(customer_email): a customer's events are read by their lower-cased email
each time the customer is brought up to date (services/customers.py). Plain SQL, the same on
SQLite and PostgreSQL (an expression index the model need not declare)."""

from django.db import migrations

INDEX = "returns_mail_returnevent_email_lower"


class Migration(migrations.Migration):
    dependencies = [("returns_mail", "0006_customers_and_segments")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON returns_mail_returnevent "
            "(LOWER(customer_email))",
            f"DROP INDEX IF EXISTS {INDEX}",
        )
    ]
