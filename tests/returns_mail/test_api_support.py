"""Fixtures and helpers shared by the API tests. A test module imports the `*_fixture` functions
it uses (pytest finds them by their `name`), and `own_cache_keys_fixture` always."""

from __future__ import annotations

import copy
import uuid

import pytest
from rest_framework.test import APIClient

from returns_mail.models import Message, ReturnEvent, RoutingMode, RuleAccount, TriggerRule
from returns_mail.services.api_clients import api_client_create
from templates_lib.catalogue import CATALOGUE, SAMPLE_COMMON

BOTH_SCOPES = ["events:write", "messages:read"]
EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"


@pytest.fixture(autouse=True)
def own_cache_keys_fixture(settings):
    """Rate-limit counters of one test never reach another: a fresh key prefix on the
    configured cache (Redis when REDIS_URL is set, local memory otherwise)."""
    default = {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "default": default}


@pytest.fixture(name="make_client")
def make_client_fixture(db):
    """make_client(name=..., scopes=[...], rate_limit_per_minute=...) -> (ApiClient, token)."""

    def make(name: str | None = None, scopes=None, **fields):
        return api_client_create(
            name=name or f"client-{uuid.uuid4().hex[:8]}",
            scopes=BOTH_SCOPES if scopes is None else scopes,
            **fields,
        )

    return make


@pytest.fixture(name="api_client")
def api_client_fixture(make_client):
    """(ApiClient, token) with both scopes."""
    return make_client(name="returns-system")


def api_for(token: str) -> APIClient:
    """A DRF test client sending `token`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(name="api")
def api_fixture(api_client):
    """A DRF test client sending the api_client's token."""
    return api_for(api_client[1])


def event_body(event_type: str = "refund.processed", **overrides) -> dict:
    """A valid event of `event_type` from the catalogue's sample; top-level keys overridden."""
    customer = {k: v for k, v in SAMPLE_COMMON["customer"].items() if k != "first_name"}
    body = {
        "type": event_type,
        "occurred_at": SAMPLE_COMMON["occurred_at"],
        "return_id": SAMPLE_COMMON["return_id"],
        "order_id": SAMPLE_COMMON["order_id"],
        "customer": customer,
        "data": copy.deepcopy(CATALOGUE[event_type].sample),
    }
    body.update(overrides)
    return body


def post_json(api, path: str, body, **headers):
    return api.post(path, body, format="json", **headers)


def row_counts() -> tuple[int, int]:
    return ReturnEvent.objects.count(), Message.objects.count()


@pytest.fixture(name="refund_rule")
def refund_rule_fixture(db, make_account):
    """A rule sending the default `refund.processed` template to the customer through a
    SendGrid account at the sandbox."""
    from templates_lib.models import Template
    from templates_lib.services.defaults import defaults_install

    defaults_install()
    account = make_account("sendgrid", name="SendGrid (sandbox)")
    rule = TriggerRule.objects.create(
        name="Refund confirmation",
        event_type="refund.processed",
        template=Template.objects.get(slug="refund-processed"),
        routing=RoutingMode.SINGLE,
    )
    RuleAccount.objects.create(rule=rule, account=account)
    return rule
