"""`python -m bench.seed_customers N SANDBOX_URL`: a Mailchimp Marketing account on the sandbox
and N customers waiting for the audience sync (two in three with marketing consent), stored
directly in bulk. Prints {"account": id, "customers": N} as JSON."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

TAGS = (["returned"], ["returned", "refunded"], ["exchanged"], ["store_credit"])
EVENTS = ("return.received", "refund.processed", "exchange.created", "store_credit.issued")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.utils import timezone

    from providers.models import ProviderAccount
    from returns_mail.models import Customer

    count, sandbox = int(sys.argv[1]), sys.argv[2]
    account = ProviderAccount.objects.create(
        name="Bench Mailchimp",
        kind="mailchimp_marketing",
        api_base_url=f"{sandbox}/mailchimp",
        api_key="0123456789abcdef0123456789abcdef-us6",
        from_email="returns@bench.example",
        audience_id="bench-audience",
    )
    now = timezone.now()
    Customer.objects.bulk_create(
        (
            Customer(
                email=f"customer{i:06d}@bench.example",
                name=f"Customer {i}",
                locale=("en", "de-DE", "fr-FR")[i % 3],
                marketing_consent=i % 3 != 0,
                last_return_id=f"RMA-B{i}",
                last_event_type=EVENTS[i % 4],
                last_event_at=now,
                returns_count=1 + i % 3,
                total_refunded=Decimal(i % 200) + Decimal("0.50"),
                refund_currency="EUR",
                tags=TAGS[i % 4],
                audience_sync_pending=True,
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    print(json.dumps({"account": account.pk, "customers": count}))


if __name__ == "__main__":
    main()
