from __future__ import annotations

import pytest

from templates_lib.models import Layout, Template
from templates_lib.services.defaults import default_layout
from templates_lib.services.templates import template_publish, template_version_create


@pytest.fixture
def layout(db) -> Layout:
    return default_layout({"brand_name": "Test Shop", "support_email": "help@test-shop.example"})


@pytest.fixture
def make_template(layout, django_capture_on_commit_callbacks):
    """Create a template (and its first version); `publish=True` publishes it, running the
    pushes the commit queues."""

    def make(*, publish: bool = False, translations: dict | None = None, **fields) -> Template:
        defaults = {
            "name": "Refund processed",
            "slug": "refund-processed",
            "purpose": "transactional",
            "event_types": ["refund.processed"],
            "layout": layout,
            "subject": "Refund {{refund.amount}} {{refund.currency}} for {{return_id}}",
            "html": "<h1>Hi {{customer.first_name}}</h1><p>We refunded {{refund.amount}}.</p>",
        }
        defaults.update(fields)
        template = Template.objects.create(**defaults)
        for locale, content in (translations or {}).items():
            template.translations.create(locale=locale, **content)
        version = template_version_create(template=template)
        if publish:
            with django_capture_on_commit_callbacks(execute=True):
                template_publish(version=version)
            template.refresh_from_db()
        return template

    return make
