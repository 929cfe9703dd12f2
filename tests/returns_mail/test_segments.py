"""Segment conditions compiled to SQL: every operator and event-history option on one fixed
data set, with the exact member emails; the promotional audience and its exclusions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_mail.models import Customer, ReturnEvent, Segment, Suppression
from returns_mail.segment_rules import segment_conditions_errors
from returns_mail.selectors.segments import segment_audience, segment_members
from returns_mail.services.segments import segment_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ANA, BEN, CLEO, DAN, EVE = (f"{n}@shop.example" for n in ("ana", "ben", "cleo", "dan", "eve"))


def customer(email, **fields) -> Customer:
    return Customer.objects.create(email=email, **fields)


def event(client, email, type_, days_ago, data) -> ReturnEvent:
    number = ReturnEvent.objects.count() + 1
    return ReturnEvent.objects.create(
        client=client,
        idempotency_key=f"k{number}",
        request_digest="d",
        type=type_,
        occurred_at=NOW - timedelta(days=days_ago),
        return_id=f"RMA-{number}",
        customer_email=email,
        data=data,
    )


def items(*reasons) -> list[dict]:
    return [{"sku": f"SKU-{i}", "quantity": 1, "reason": r} for i, r in enumerate(reasons)]


@pytest.fixture
def people(returns_system):
    """Five customers and their events (one event of a non-customer, one malformed)."""
    customer(ANA, locale="de-DE", tags=["returned", "refunded"], returns_count=3,
             total_refunded=Decimal("120.00"), marketing_consent=True,
             last_event_type="refund.processed", last_event_at=NOW - timedelta(days=2))  # fmt: skip
    customer(BEN, locale="en-GB", tags=["returned"], returns_count=1, marketing_consent=False,
             last_event_type="return.cancelled", last_event_at=NOW - timedelta(days=40))  # fmt: skip
    customer(CLEO, locale="fr-FR", tags=["returned", "exchanged"], returns_count=2,
             total_refunded=Decimal("49.90"), marketing_consent=True,
             last_event_type="exchange.created", last_event_at=NOW - timedelta(days=10))  # fmt: skip
    customer(DAN, marketing_consent=True)  # no returns data at all
    customer(EVE, locale="de-AT", tags=["refunded", "store credit"], returns_count=5,
             total_refunded=Decimal("300.50"), marketing_consent=True,
             last_event_type="refund.processed", last_event_at=NOW - timedelta(days=31))  # fmt: skip
    c = returns_system
    refund = "refund.processed"
    event(c, ANA, refund, 2, {"items": items("Too small", "Changed mind"),
                              "refund": {"amount": "89.80", "currency": "EUR"}})  # fmt: skip
    event(c, ANA, "return.initiated", 20, {"items": items("Too small")})
    event(c, CLEO, refund, 10, {"items": items("Changed mind"), "refund": {"amount": "49.90"}})
    event(c, EVE, refund, 31, {"items": items("too SMALL"), "refund": {"amount": 300.5}})
    event(c, "Ben@Shop.Example", "return.cancelled", 5, {"reason": "Too Small"})
    event(c, DAN, refund, 1, {"items": "oops", "refund": {"amount": "n/a"}})
    event(
        c, "zed@shop.example", refund, 1, {"items": items("Too small"), "refund": {"amount": "5"}}
    )
    return c


def members(conditions, match="all", now=NOW) -> list[str]:
    segment = Segment(name="s", match=match, conditions=conditions)
    assert segment_conditions_errors(conditions) == []
    return [c.email for c in segment_members(segment, now=now).order_by("email")]


# --- customer fields ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "locale", "op": "eq", "value": "de-DE"}, [ANA]),
        ({"field": "locale", "op": "ne", "value": "de-DE"}, [BEN, CLEO, DAN, EVE]),
        ({"field": "locale", "op": "in", "value": ["de-AT", "fr-FR"]}, [CLEO, EVE]),
        ({"field": "locale", "op": "contains", "value": "DE"}, [ANA, EVE]),
        ({"field": "locale", "op": "set"}, [ANA, BEN, CLEO, EVE]),
        ({"field": "tags", "op": "contains", "value": "refunded"}, [ANA, EVE]),
        ({"field": "tags", "op": "contains", "value": "store credit"}, [EVE]),
        ({"field": "tags", "op": "contains", "value": "refund"}, []),  # whole tags only
        ({"field": "tags", "op": "ne", "value": "returned"}, [DAN, EVE]),
        ({"field": "tags", "op": "in", "value": ["exchanged", "store credit"]}, [CLEO, EVE]),
        ({"field": "tags", "op": "set"}, [ANA, BEN, CLEO, EVE]),
        ({"field": "returns_count", "op": "eq", "value": 3}, [ANA]),
        ({"field": "returns_count", "op": "ne", "value": "3"}, [BEN, CLEO, DAN, EVE]),
        ({"field": "returns_count", "op": "in", "value": [0, "5"]}, [DAN, EVE]),
        ({"field": "returns_count", "op": "gt", "value": 2}, [ANA, EVE]),
        ({"field": "returns_count", "op": "lt", "value": "2"}, [BEN, DAN]),
        ({"field": "total_refunded", "op": "eq", "value": "49.9"}, [CLEO]),
        ({"field": "total_refunded", "op": "ne", "value": 0}, [ANA, CLEO, EVE]),
        ({"field": "total_refunded", "op": "in", "value": ["120", "300.50"]}, [ANA, EVE]),
        ({"field": "total_refunded", "op": "gt", "value": "100"}, [ANA, EVE]),
        ({"field": "total_refunded", "op": "lt", "value": 49.91}, [BEN, CLEO, DAN]),
        ({"field": "marketing_consent", "op": "eq", "value": False}, [BEN]),
        ({"field": "marketing_consent", "op": "ne", "value": False}, [ANA, CLEO, DAN, EVE]),
        ({"field": "last_event_type", "op": "eq", "value": "refund.processed"}, [ANA, EVE]),
        ({"field": "last_event_type", "op": "ne", "value": "refund.processed"}, [BEN, CLEO, DAN]),
        (
            {"field": "last_event_type", "op": "in", "value": ["return.cancelled", "x.y"]},
            [BEN],
        ),
        ({"field": "last_event_type", "op": "contains", "value": "EXCHANGE"}, [CLEO]),
        ({"field": "last_event_type", "op": "set"}, [ANA, BEN, CLEO, EVE]),
        ({"field": "last_event_at", "op": "gt", "days_ago": 30}, [ANA, CLEO]),
        ({"field": "last_event_at", "op": "lt", "days_ago": 30}, [BEN, EVE]),
        ({"field": "last_event_at", "op": "gt", "value": "2026-11-20"}, [ANA]),
        ({"field": "last_event_at", "op": "lt", "value": "2026-10-20T00:00:00Z"}, [BEN]),
        ({"field": "last_event_at", "op": "set"}, [ANA, BEN, CLEO, EVE]),
    ],
)
def test_customer_field_conditions(people, condition, expected):
    assert members([condition]) == expected


# --- event history ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"event": "refund.processed"}, [ANA, CLEO, DAN, EVE]),  # zed is no customer
        ({"event": "refund.processed", "within_days": 30}, [ANA, CLEO, DAN]),
        ({"event": "refund.processed", "within_days": 31}, [ANA, CLEO, DAN, EVE]),
        ({"event": "refund.processed", "within_days": 5}, [ANA, DAN]),
        ({"event": "refund.processed", "reason": "too small"}, [ANA, EVE]),  # items[].reason
        ({"event": "return.cancelled", "reason": "TOO SMALL"}, [BEN]),  # data.reason, any case
        ({"event": "return.initiated", "reason": "Changed mind"}, []),
        ({"event": "refund.processed", "reason": "Changed mind"}, [ANA, CLEO]),
        ({"event": "refund.processed", "min_amount": "50"}, [ANA, EVE]),  # "n/a" never matches
        ({"event": "refund.processed", "min_amount": "49.90"}, [ANA, CLEO, EVE]),  # inclusive
        ({"event": "refund.processed", "max_amount": "89.8"}, [ANA, CLEO]),  # inclusive
        ({"event": "refund.processed", "min_amount": 50, "max_amount": 100}, [ANA]),
        ({"event": "refund.processed", "max_amount": "300.5", "min_amount": "300.5"}, [EVE]),
        ({"event": "return.initiated", "within_days": 30}, [ANA]),
        ({"event": "exchange.created"}, []),
    ],
)
def test_event_history_conditions(people, condition, expected):
    assert members([condition]) == expected


def test_windows_are_relative_to_now(people):
    condition = [{"event": "refund.processed", "within_days": 30}]
    assert members(condition, now=NOW + timedelta(days=3)) == [ANA, CLEO, DAN]
    # A day earlier, EVE's refund is inside the window; DAN's, dated after that "now", still
    # counts: a window has a start, no end (a returns system's clock may run a little ahead).
    assert members(condition, now=NOW - timedelta(days=1)) == [ANA, CLEO, DAN, EVE]
    assert members([{"field": "last_event_at", "op": "gt", "days_ago": 9}], now=NOW) == [ANA]


def test_refunded_in_the_last_30_days_because_of_size(people):
    """The example segment of the issue: EVE's size refund is 31 days old, BEN's size reason
    is on a cancellation, not a refund."""
    segment = segment_create(
        name="Refunded in the last 30 days because of size",
        conditions=[{"event": "refund.processed", "within_days": 30, "reason": "Too small"}],
    )
    assert [c.email for c in segment_members(segment, now=NOW)] == [ANA]


def test_all_and_any(people):
    conditions = [
        {"field": "locale", "op": "contains", "value": "de"},
        {"event": "refund.processed", "within_days": 30},
    ]
    assert members(conditions, "all") == [ANA]
    assert members(conditions, "any") == [ANA, CLEO, DAN, EVE]
    assert members([], "all") == [ANA, BEN, CLEO, DAN, EVE]  # no condition: every customer
    assert members([], "any") == [ANA, BEN, CLEO, DAN, EVE]


def test_members_are_one_query_and_stream(people):
    segment = Segment(
        name="s",
        match="any",
        conditions=[
            {"event": "refund.processed", "reason": "too small", "min_amount": "1"},
            {"field": "tags", "op": "contains", "value": "exchanged"},
        ],
    )
    with CaptureQueriesContext(connection) as queries:
        streamed = [c.email for c in segment_members(segment, now=NOW).iterator(chunk_size=2)]
    assert streamed == [ANA, CLEO, EVE]
    assert len(queries) == 1


# --- the promotional audience -------------------------------------------------------------------
@pytest.fixture
def suppressed_people(db):
    for name, consent in [("p1", False), ("p2", False), ("p3", True), ("p4", True),
                          ("p5", False), ("p6", True), ("p7", True)]:  # fmt: skip
        customer(f"{name}@shop.example", marketing_consent=consent, tags=["vip"])
    customer("outsider@shop.example", marketing_consent=True)
    rows = [
        ("p1", "hard_bounce", "all"),
        ("p1", "complaint", "promotional"),
        ("p2", "complaint", "all"),
        ("p2", "unsubscribe", "promotional"),
        ("p3", "unsubscribe", "promotional"),
        ("p4", "manual", "all"),
        ("P7-other", "hard_bounce", "all"),
        ("outsider", "complaint", "all"),
    ]
    for name, reason, scope in rows:
        Suppression.objects.create(email=f"{name}@shop.example", reason=reason, scope=scope)
    return Segment.objects.create(
        name="VIPs", conditions=[{"field": "tags", "op": "contains", "value": "vip"}]
    )


def test_audience_excludes_suppressed_and_unconsented_each_once_by_precedence(
    suppressed_people,
):
    audience = segment_audience(suppressed_people, now=NOW)

    assert [c.email for c in audience.recipients.order_by("email")] == [
        "p6@shop.example",
        "p7@shop.example",
    ]
    assert audience.members == 7
    assert audience.eligible == 2
    # p1: hard bounce before complaint and no consent; p2: complaint before unsubscribe and no
    # consent; p5: only no consent. The outsider is no member and not counted.
    assert audience.excluded == {
        "hard_bounce": 1,
        "complaint": 1,
        "unsubscribe": 1,
        "manual": 1,
        "no_consent": 1,
    }
    assert list(audience.excluded) == [
        "hard_bounce", "complaint", "unsubscribe", "manual", "no_consent"
    ]  # fmt: skip
    assert audience.excluded_total == 5


def test_audience_of_an_empty_segment(suppressed_people):
    segment = Segment(name="none", conditions=[{"field": "locale", "op": "eq", "value": "xx"}])
    audience = segment_audience(segment)
    assert (audience.members, audience.eligible, audience.excluded_total) == (0, 0, 0)
    assert list(audience.recipients) == []


# --- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("conditions", "errors"),
    [
        ({"field": "locale"}, ["Conditions must be a list."]),
        (["locale"], ["Condition 1 must be an object with a field or an event."]),
        ([{"op": "eq", "value": 1}], ["Condition 1 needs a customer field or an event type."]),
        (
            [{"field": "locale", "event": "refund.processed"}],
            ["Condition 1 (event refund.processed): give a field or an event, not both."],
        ),
        (
            [{"field": "email", "op": "eq", "value": "a"}],
            [
                "Condition 1 (email): there is no customer field “email”; fields: locale, tags, "
                "returns_count, total_refunded, marketing_consent, last_event_type, last_event_at."
            ],
        ),
        (
            [{"field": "locale", "op": "set"}, {"field": "locale", "op": "gt", "value": "de"}],
            [
                "Condition 2 (locale): the operator must be one of eq (equals), ne (does not "
                "equal), in (is one of), contains (contains), set (is set), not 'gt'."
            ],
        ),
        ([{"field": "locale", "op": "eq"}], ["Condition 1 (locale) needs a value."]),
        (
            [{"field": "locale", "op": "set", "value": "x"}],
            ["Condition 1 (locale): “is set” takes no value."],
        ),
        (
            [{"field": "tags", "op": "in", "value": []}],
            ["Condition 1 (tags): “is one of” needs a non-empty list of values."],
        ),
        (
            [{"field": "returns_count", "op": "gt", "value": "2.5"}],
            ["Condition 1 (returns_count): the value must be a whole number, not '2.5'."],
        ),
        (
            [{"field": "total_refunded", "op": "in", "value": ["1", "lots"]}],
            ["Condition 1 (total_refunded): the value must be a number, not 'lots' (in the list)."],
        ),
        (
            [{"field": "marketing_consent", "op": "eq", "value": "yes"}],
            ["Condition 1 (marketing_consent): the value must be true or false."],
        ),
        (
            [{"field": "last_event_at", "op": "gt", "value": "last week"}],
            [
                "Condition 1 (last_event_at): the value must be an ISO date or date-time, "
                "e.g. 2026-11-01."
            ],
        ),
        (
            [{"field": "last_event_at", "op": "gt", "value": "2026-11-01", "days_ago": 3}],
            [
                "Condition 1 (last_event_at): give either a value (an ISO date or date-time) "
                "or days_ago."
            ],
        ),
        (
            [{"field": "locale", "op": "eq", "value": "de", "days_ago": 3}],
            ["Condition 1 (locale): days_ago only applies to last_event_at."],
        ),
        (
            [{"field": "locale", "op": "eq", "value": "de", "within_days": 3}],
            [
                "Condition 1 (locale): unknown key(s) within_days; a field condition takes "
                "field, op, value (and days_ago for last_event_at)."
            ],
        ),
        (
            [{"event": "refund.done"}],
            [
                "Condition 1 (event refund.done): “refund.done” is not an event type of the catalogue."
            ],
        ),
        (
            [{"event": "refund.processed", "within_days": 0, "reason": " ", "min_amount": "x"}],
            [
                "Condition 1 (event refund.processed): within_days must be a whole number of "
                "days, 1 or more.",
                "Condition 1 (event refund.processed): the reason must be a non-empty text.",
                "Condition 1 (event refund.processed): min_amount must be a number, not 'x'.",
            ],
        ),
        (
            [{"event": "refund.processed", "min_amount": "100", "max_amount": "10"}],
            ["Condition 1 (event refund.processed): min_amount 100 is above max_amount 10."],
        ),
        (
            [{"event": "refund.processed", "op": "eq", "value": "x"}],
            [
                "Condition 1 (event refund.processed): unknown key(s) op, value; an event "
                "condition takes event, within_days, reason, min_amount, max_amount."
            ],
        ),
    ],
)
def test_bad_conditions_are_refused_with_the_condition_named(conditions, errors):
    assert segment_conditions_errors(conditions) == errors
    with pytest.raises(ValidationError) as refused:
        segment_create(name="bad", conditions=conditions)
    assert refused.value.messages == errors
    assert Segment.objects.count() == 0
