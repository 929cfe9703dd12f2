"""Fixtures of the analytics tests: outbox rows written directly, without sending."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone


@pytest.fixture
def make_message(db):
    """make_message(account=None, status="sent", changed_at=None) -> an outbox Message row
    (one shared return event and template version; nothing is rendered or sent)."""
    from returns_mail.models import Message, ReturnEvent
    from returns_mail.services.api_clients import api_client_create
    from templates_lib.models import Layout, Template, TemplateVersion

    shared = {}
    numbers = count(1)

    def make(*, account=None, status="sent", changed_at=None, **fields) -> Message:
        if not shared:
            client, _ = api_client_create(name="analytics tests", scopes=["events:write"])
            layout = Layout.objects.create(name="tests", html="{{body}}", brand_name="Shop")
            template = Template.objects.create(
                name="Refund", slug="refund-tests", layout=layout, subject="Hi", html="<p>Hi</p>"
            )
            shared["version"] = TemplateVersion.objects.create(
                template=template,
                number=1,
                contents={"en": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
                default_locale="en",
                layout=layout,
                content_hash="0" * 64,
            )
            shared["event"] = ReturnEvent.objects.create(
                client=client,
                idempotency_key="analytics-tests",
                request_digest="0" * 64,
                type="refund.processed",
                occurred_at=timezone.now() - timedelta(hours=1),
                return_id="RMA-1",
                customer_email="ada@example.com",
            )
        message = Message.objects.create(
            event=shared["event"],
            template_version=shared["version"],
            recipient=f"customer{next(numbers)}@example.com",
            send_after=timezone.now(),
            account=account,
            status=status,
            **fields,
        )
        if changed_at is not None:
            Message.objects.filter(pk=message.pk).update(status_changed_at=changed_at)
            message.status_changed_at = changed_at
        return message

    return make
