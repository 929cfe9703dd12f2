"""Building blocks of the campaign tests: customers in bulk, a promotional template published
to the accounts, a campaign, and what the sandbox received."""

from __future__ import annotations

import collections

from returns_mail.models import Campaign, Customer, Segment, Suppression
from returns_mail.services.segments import segment_create

OFFER_HTML = (
    "<h1>Hello {{customer.first_name}}</h1><p>{{brand.name}} has 15% off for you.</p>"
    "<p>Your last return: {{return_id}}</p>"
)


def customers(count: int, *, prefix: str = "c", consent: bool = True, **fields) -> list[str]:
    """`count` customers (bulk insert); returns their addresses."""
    emails = [f"{prefix}{n:06d}@example.com" for n in range(count)]
    Customer.objects.bulk_create(
        [
            Customer(
                email=email,
                name=f"Cust{n} Omer",
                locale="en",
                marketing_consent=consent,
                returns_count=1 + n % 3,
                tags=["refunded"],
                **fields,
            )
            for n, email in enumerate(emails)
        ],
        batch_size=2000,
    )
    return emails


def everyone() -> Segment:
    return segment_create(name="Everyone", conditions=[])


def offer_template(make_template):
    return make_template(
        publish=True,
        purpose="promotional",
        slug="come-back",
        name="Come back",
        event_types=[],
        subject="A gift for you, {{customer.first_name}}",
        html=OFFER_HTML,
    )


def make_campaign(segment, template, account, **fields) -> Campaign:
    defaults = {"name": "Spring offer", "unsubscribe_group_id": 42}
    defaults.update(fields)
    return Campaign.objects.create(segment=segment, template=template, account=account, **defaults)


def sendgrid_sends(esp_sandbox) -> collections.Counter:
    """How many times each address reached SendGrid (outside sandbox mode)."""
    return collections.Counter(
        to["email"]
        for record in esp_sandbox.records("sendgrid", path="/v3/mail/send")
        for personalization in record["body"]["personalizations"]
        for to in personalization["to"]
    )


def suppress(email: str, reason: str = "hard_bounce", scope: str = "all") -> None:
    Suppression.objects.create(email=email, reason=reason, scope=scope)
