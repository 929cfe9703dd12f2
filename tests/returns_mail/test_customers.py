"""Customers kept current from the return events, in the background (services/customers.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_mail.models import Customer, ReturnEvent, Suppression, SuppressionReason
from returns_mail.services import customers
from returns_mail.services.customers import customer_apply_event
from returns_mail.services.events import IngestItem, events_ingest_batch, request_digest
from tests.returns_mail.conftest import event_input

pytestmark = pytest.mark.django_db

EMAIL = "ada.customer@example.com"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, tzinfo=UTC)


def refund(amount: str, currency: str = "EUR") -> dict:
    return {"refund": {"amount": amount, "currency": currency, "method": "Visa"}}


def fields(customer: Customer) -> dict:
    return {
        "email": customer.email,
        "name": customer.name,
        "locale": customer.locale,
        "marketing_consent": customer.marketing_consent,
        "last_return_id": customer.last_return_id,
        "last_event_type": customer.last_event_type,
        "last_event_at": customer.last_event_at,
        "returns_count": customer.returns_count,
        "total_refunded": customer.total_refunded,
        "refund_currency": customer.refund_currency,
        "tags": customer.tags,
        "audience_sync_pending": customer.audience_sync_pending,
    }


def test_every_event_keeps_the_customer_current(ingest):
    ingest("return.received", return_id="RMA-1", occurred_at=at(9), marketing_consent=True)
    ingest("refund.processed", return_id="RMA-1", occurred_at=at(10), data=refund("89.80"))
    ingest(
        "exchange.created",
        return_id="RMA-2",
        occurred_at=at(11),
        customer_email="Ada.Customer@Example.COM",
        customer_name="Ada King",
        customer_locale="en-GB",
        marketing_consent=True,
    )
    ingest(
        "refund.processed",
        return_id="RMA-2",
        occurred_at=at(12),
        data=refund("10.25"),
        customer_name="",  # not given: the latest name given stays
        customer_locale="",
    )

    assert [fields(c) for c in Customer.objects.all()] == [
        {
            "email": EMAIL,
            "name": "Ada King",
            "locale": "en-GB",
            "marketing_consent": False,  # the latest event says no
            "last_return_id": "RMA-2",
            "last_event_type": "refund.processed",
            "last_event_at": at(12),
            "returns_count": 2,
            "total_refunded": Decimal("100.05"),
            "refund_currency": "EUR",
            "tags": ["exchanged", "refunded", "returned"],
            "audience_sync_pending": True,
        }
    ]


def test_applying_an_event_twice_changes_nothing(ingest):
    event = ingest("refund.processed", data=refund("89.80"))
    Customer.objects.update(audience_sync_pending=False)
    before = Customer.objects.get()

    customer_apply_event(event_id=event.pk)
    customer_apply_event(event_id=event.pk)

    after = Customer.objects.get()
    assert fields(after) == {**fields(before), "audience_sync_pending": False}
    assert after.total_refunded == Decimal("89.80")
    assert after.returns_count == 1
    assert after.updated_at == before.updated_at


def test_an_older_event_arriving_late_does_not_move_last_fields_back(ingest):
    ingest("return.completed", return_id="RMA-2", occurred_at=at(15), marketing_consent=True)
    ingest("return.received", return_id="RMA-1", occurred_at=at(9), customer_name="Old Name")

    customer = Customer.objects.get()
    assert (customer.last_return_id, customer.last_event_type, customer.last_event_at) == (
        "RMA-2",
        "return.completed",
        at(15),
    )
    assert customer.marketing_consent is True
    assert customer.name == "Ada Lovelace"
    assert customer.returns_count == 2


def test_refunds_in_a_second_currency_are_left_out(ingest):
    ingest("refund.processed", return_id="RMA-1", occurred_at=at(9), data=refund("20.00"))
    ingest("refund.processed", return_id="RMA-2", occurred_at=at(10), data=refund("5.00", "USD"))
    ingest("refund.processed", return_id="RMA-3", occurred_at=at(11), data=refund("1.50"))

    customer = Customer.objects.get()
    assert (customer.total_refunded, customer.refund_currency) == (Decimal("21.50"), "EUR")


def test_an_unsubscribe_sticks_whatever_later_events_say(ingest):
    Suppression.objects.create(
        email=EMAIL, scope="promotional", reason=SuppressionReason.UNSUBSCRIBE
    )
    ingest("return.received", marketing_consent=True)

    assert Customer.objects.get().marketing_consent is False


def test_intake_only_queues_the_customer_work(ingest, django_capture_on_commit_callbacks):
    with CaptureQueriesContext(connection) as queries:
        event = ingest("refund.processed", data=refund("89.80"), execute=False)

    assert not [q for q in queries if "returns_mail_customer" in q["sql"]]
    assert not Customer.objects.exists()
    customer_apply_event(event_id=event.pk)  # what the queued task does
    assert Customer.objects.get().total_refunded == Decimal("89.80")


def test_a_batch_of_events_updates_each_customer_once(
    returns_system, django_capture_on_commit_callbacks, monkeypatch
):
    recomputed = []
    original = customers.customer_values

    def counting(*, email):
        recomputed.append(email)
        return original(email=email)

    monkeypatch.setattr(customers, "customer_values", counting)
    items = []
    for n, email in enumerate(["a@shop.example", "B@shop.example", "a@shop.example"]):
        event = event_input("return.received", return_id=f"RMA-{n}", customer_email=email)
        items.append(IngestItem(event, f"batch-{n}", request_digest({"n": n})))

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest_batch(client=returns_system, items=items)

    assert ReturnEvent.objects.count() == 3
    assert list(Customer.objects.values_list("email", "returns_count", "tags")) == [
        ("a@shop.example", 2, ["returned"]),
        ("b@shop.example", 1, ["returned"]),
    ]
    assert recomputed == ["a@shop.example", "b@shop.example"]  # one task, each customer once


def test_an_unknown_event_id_is_harmless():
    assert customer_apply_event(event_id=987654) is None
    assert not Customer.objects.exists()


def test_a_lost_customers_task_is_applied_again_by_the_sweep(
    ingest, django_capture_on_commit_callbacks, settings
):
    settings.Q_RETRY = 90
    # Intake committed, but the customers task never ran (its worker was killed with it).
    lost = ingest("refund.processed", data=refund("89.80"), execute=False)
    applied = ingest("return.received", return_id="RMA-2", customer_email="b@shop.example")
    assert (lost.customer_applied, ReturnEvent.objects.get(pk=applied.pk).customer_applied) == (
        False,
        True,
    )
    assert not Customer.objects.filter(email=EMAIL).exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert customers.customers_sweep() == 0  # within Q_RETRY: the task may still come
    ReturnEvent.objects.filter(pk=lost.pk).update(
        received_at=lost.received_at - timedelta(seconds=91)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert customers.customers_sweep() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert customers.customers_sweep() == 0  # applied: not again

    assert Customer.objects.get(email=EMAIL).total_refunded == Decimal("89.80")
    assert ReturnEvent.objects.get(pk=lost.pk).customer_applied is True
    # The original task arriving late (a backlog, not a loss) finds nothing left to do.
    assert customers.customers_apply_events(event_ids=[lost.pk]) == 0


def test_a_burst_of_changed_customers_rings_the_audience_sync_once(
    returns_system, django_capture_on_commit_callbacks, monkeypatch
):
    from returns_mail.services import audience

    queued = []
    monkeypatch.setattr(audience, "enqueue", lambda func, *args: queued.append(func))
    items = [
        IngestItem(
            event_input("return.received", return_id=f"RMA-{n}", customer_email=f"c{n}@x.example"),
            f"burst-{n}",
            request_digest({"n": n}),
        )
        for n in range(3)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest_batch(client=returns_system, items=items[:2])
    assert Customer.objects.filter(audience_sync_pending=True).count() == 2
    assert queued == ["returns_mail.tasks.sync_audiences"]  # two changes, one sync queued

    audience.audience_sync_rung()  # the sync starts: a change from now on rings again
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest_batch(client=returns_system, items=items[2:])
    assert queued == ["returns_mail.tasks.sync_audiences"] * 2
