"""Installing the default layout and templates (idempotent: only what is missing)."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from providers.models import Purpose
from templates_lib.catalogue import CATALOGUE
from templates_lib.defaults.content import DEFAULTS
from templates_lib.models import Layout, Template
from templates_lib.services.templates import template_publish, template_version_create

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"
DEFAULT_LAYOUT_NAME = "Default brand"


def default_layout(brand: dict | None = None) -> Layout:
    """The default layout; `brand` fills its brand fields when it is first created."""
    layout, _ = Layout.objects.get_or_create(
        name=DEFAULT_LAYOUT_NAME,
        defaults={
            "html": (DEFAULTS_DIR / "layout.html").read_text(),
            "css": (DEFAULTS_DIR / "layout.css").read_text(),
            "brand_name": "Your Shop",
            "support_email": "support@shop.example",
            "website_url": "https://shop.example",
            "address": "1 Return Street, 10115 Berlin",
            **(brand or {}),
        },
    )
    return layout


def defaults_install(*, actor=None, brand: dict | None = None) -> list[Template]:
    """Create (version 1, published) every default template that does not exist yet."""
    created = []
    with transaction.atomic():
        layout = default_layout(brand)
        for key, event in CATALOGUE.items():
            slug = key.replace(".", "-")
            if key not in DEFAULTS or Template.objects.filter(slug=slug).exists():
                continue
            subject, html = DEFAULTS[key]
            template = Template.objects.create(
                name=event.label,
                slug=slug,
                purpose=Purpose.TRANSACTIONAL,
                event_types=[key],
                layout=layout,
                default_locale="en",
                subject=subject,
                html=html,
            )
            version = template_version_create(template=template, actor=actor)
            template_publish(version=version, actor=actor)
            created.append(template)
    return created
