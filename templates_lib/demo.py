"""Demo data of the template library: the default layout and templates, and a promotional one
for campaigns, published (the demo's worker then pushes them to the demo provider accounts)."""

from typing import TextIO

from django.db import transaction

from providers.models import Purpose
from templates_lib.models import Template
from templates_lib.services.defaults import default_layout, defaults_install
from templates_lib.services.templates import template_publish, template_version_create


def seed(*, out: TextIO) -> None:
    created = defaults_install(
        brand={"brand_name": "Demo Shop", "support_email": "help@demo-shop.example"}
    )
    out.write(f"Templates: {len(created)} default templates installed and published.\n")
    seed_promotional(out=out)


PROMOTIONAL_SLUG = "come-back-offer"
PROMOTIONAL_HTML = (
    "<h1>Hello {{customer.first_name}},</h1>"
    "<p>Thank you for shopping with {{brand.name}}. Returns happen: this time, take 15% off "
    "your next order with the code <strong>COMEBACK15</strong>.</p>"
    '<p><a href="https://demo-shop.example/offers/comeback">See the offer</a></p>'
)


def seed_promotional(*, out: TextIO) -> None:
    """A promotional template for the demo's campaigns, published to every account that keeps
    promotional templates (SendGrid, Mandrill, Mailchimp Marketing)."""
    if not Template.objects.filter(slug=PROMOTIONAL_SLUG).exists():
        _promotional_create()
    out.write("Templates: a promotional template for campaigns (Come back: 15% off).\n")


def _promotional_create() -> None:
    with transaction.atomic():
        template = Template.objects.create(
            name="Come back: 15% off",
            slug=PROMOTIONAL_SLUG,
            purpose=Purpose.PROMOTIONAL,
            event_types=[],
            layout=default_layout(),
            default_locale="en",
            subject="{{customer.first_name}}, 15% off your next order",
            html=PROMOTIONAL_HTML,
        )
        template_publish(version=template_version_create(template=template))
