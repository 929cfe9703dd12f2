from __future__ import annotations

from datetime import UTC, datetime

import pytest

from returns_mail.models import RuleAccount, TriggerRule
from returns_mail.services.api_clients import api_client_create
from returns_mail.services.events import EventInput, event_ingest, request_digest
from templates_lib.catalogue import sample_context
from templates_lib.models import Template
from templates_lib.services.defaults import defaults_install


@pytest.fixture
def returns_system(db):
    client, _ = api_client_create(name="returns system", scopes=["events:write", "messages:read"])
    return client


@pytest.fixture
def templates(db):
    defaults_install()
    return {t.event_types[0]: t for t in Template.objects.all()}


@pytest.fixture
def make_rule(templates):
    def make(event_type="refund.processed", accounts=(), **fields) -> TriggerRule:
        rule = TriggerRule.objects.create(
            name=fields.pop("name", f"{event_type} rule {TriggerRule.objects.count() + 1}"),
            event_type=event_type,
            template=fields.pop("template", templates[event_type]),
            **fields,
        )
        for position, account in enumerate(accounts):
            weight = 1
            if isinstance(account, tuple):
                account, weight = account
            RuleAccount.objects.create(rule=rule, account=account, position=position, weight=weight)
        return rule

    return make


def event_input(event_type="refund.processed", **overrides) -> EventInput:
    context = sample_context(event_type)
    customer = context.pop("customer")
    fields = {
        "type": event_type,
        "occurred_at": datetime(2026, 11, 26, 10, 15, tzinfo=UTC),
        "return_id": context.pop("return_id"),
        "order_id": context.pop("order_id"),
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_locale": customer["locale"],
        "data": {k: v for k, v in context.items() if k != "occurred_at"},
    }
    fields.update(overrides)
    return EventInput(**fields)


@pytest.fixture
def ingest(returns_system, django_capture_on_commit_callbacks):
    """Ingest an event as the API does; queued sends run at once (tasks run inline)."""

    def run(event_type="refund.processed", *, key=None, execute=True, **overrides):
        event = event_input(event_type, **overrides)
        payload = {
            "type": event.type,
            "return_id": event.return_id,
            "email": event.customer_email,
            **event.data,
        }
        with django_capture_on_commit_callbacks(execute=execute):
            accepted = event_ingest(
                client=returns_system,
                event=event,
                idempotency_key=key or f"key-{event.type}-{event.return_id}-{event.customer_email}",
                digest=request_digest(payload),
            )
        return accepted.event

    return run
