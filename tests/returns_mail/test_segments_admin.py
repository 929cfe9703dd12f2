"""IT admins build segments in the admin from condition rows, and see the audience (members,
eligible, excluded by reason) and a sample of members on the change page."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from returns_mail.models import Customer, ReturnEvent, Segment, Suppression
from returns_mail.roles import IT_ADMINS, MANAGERS
from tests.returns_mail.test_admin_support import error_texts, login

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:returns_mail_segment_add")
SIZE_30_DAYS = [
    {"event": "refund.processed", "within_days": 30, "reason": "Too small"},
    {"field": "locale", "op": "in", "value": ["de-DE", "de-AT"]},
]


def change_url(segment) -> str:
    return reverse("admin:returns_mail_segment_change", args=[segment.pk])


def segment_form(rows: list[dict], **overrides) -> dict:
    """The form as the browser posts it: the given condition rows, then one blank row."""
    keys = ("subject", "op", "value", "days", "reason", "min_amount", "max_amount")
    data = {
        "name": "Refunded in the last 30 days because of size",
        "description": "For the size-guide offer.",
        "match": "all",
        "conditions-TOTAL_FORMS": str(len(rows) + 1),
        "conditions-INITIAL_FORMS": "0",
    }
    for index, row in enumerate([*rows, {}]):
        for key in keys:
            data[f"conditions-{index}-{key}"] = row.get(key, "")
        if row.get("DELETE"):
            data[f"conditions-{index}-DELETE"] = "on"
    data.update(overrides)
    return data


SIZE_ROWS = [
    {"subject": "event:refund.processed", "days": "30", "reason": " Too small "},
    {"subject": "field:locale", "op": "in", "value": "de-DE, de-AT"},
]


@pytest.fixture
def shoppers(returns_system):
    """Size refunds of the last 30 days for four German-speaking customers (two of them
    excluded from promotional mail), and two customers outside the segment."""
    now = timezone.now()
    rows = [
        ("ana@shop.example", "de-DE", True, 2, "Too small"),
        ("bo@shop.example", "de-AT", False, 3, "too small"),  # no consent
        ("cy@shop.example", "de-DE", True, 4, "Too small"),  # unsubscribed
        ("di@shop.example", "de-AT", False, 5, "Too small"),  # hard bounce (and no consent)
        ("ed@shop.example", "fr-FR", True, 6, "Too small"),  # another locale
        ("flo@shop.example", "de-DE", True, 45, "Too small"),  # too long ago
    ]
    for number, (email, locale, consent, days, reason) in enumerate(rows):
        Customer.objects.create(
            email=email, locale=locale, marketing_consent=consent, tags=["refunded"]
        )
        ReturnEvent.objects.create(
            client=returns_system,
            idempotency_key=f"k{number}",
            request_digest="d",
            type="refund.processed",
            occurred_at=now - timedelta(days=days),
            return_id=f"RMA-{number}",
            customer_email=email,
            data={"items": [{"sku": "TS", "reason": reason}], "refund": {"amount": "19.90"}},
        )
    Suppression.objects.create(email="cy@shop.example", reason="unsubscribe", scope="promotional")
    Suppression.objects.create(email="di@shop.example", reason="hard_bounce", scope="all")


def test_an_it_admin_builds_a_segment_from_rows(client, shoppers):
    login(client, IT_ADMINS)

    response = client.post(ADD_URL, {**segment_form(SIZE_ROWS), "_continue": "Save"})

    assert response.status_code == 302, error_texts(response)
    segment = Segment.objects.get()
    assert segment.name == "Refunded in the last 30 days because of size"
    assert segment.description == "For the size-guide offer."
    assert segment.match == "all"
    assert segment.conditions == SIZE_30_DAYS
    assert response["Location"] == change_url(segment)
    page = client.get(response["Location"]).content.decode()
    assert "<strong>4</strong> members, <strong>1</strong> eligible" in page


def test_the_change_page_shows_the_live_count_and_a_sample(client, shoppers):
    login(client, IT_ADMINS)
    segment = Segment.objects.create(name="Size", conditions=SIZE_30_DAYS)

    response = client.get(change_url(segment))

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert (
        "<strong>4</strong> members, <strong>1</strong> eligible for promotional mail, "
        "<strong>3</strong> excluded (each counted once, first reason first):<ul>"
        "<li>hard bounce: 1</li><li>spam complaint: 0</li><li>unsubscribed: 1</li>"
        "<li>suppressed by hand: 0</li><li>no marketing consent: 1</li></ul>"
    ) in page
    sample = page.split('<table class="segment-sample">', 1)[1].split("</table>", 1)[0]
    assert sample == (
        "<thead><tr><th>email</th><th>locale</th><th>tags</th><th>returns</th><th>consent</th>"
        "</tr></thead><tbody>"
        "<tr><td>ana@shop.example</td><td>de-DE</td><td>refunded</td><td>0</td><td>yes</td></tr>"
        "<tr><td>bo@shop.example</td><td>de-AT</td><td>refunded</td><td>0</td><td>no</td></tr>"
        "<tr><td>cy@shop.example</td><td>de-DE</td><td>refunded</td><td>0</td><td>yes</td></tr>"
        "<tr><td>di@shop.example</td><td>de-AT</td><td>refunded</td><td>0</td><td>no</td></tr>"
        "</tbody>"
    )
    # The stored conditions come back as rows, then three blank ones.
    formset = response.context["adminform"].form.conditions
    assert formset.initial == [
        {
            "subject": "event:refund.processed",
            "days": 30,
            "reason": "Too small",
            "min_amount": None,
            "max_amount": None,
        },
        {"subject": "field:locale", "op": "in", "value": "de-DE, de-AT", "days": None},
    ]
    assert len(formset.forms) == 5


def test_the_sample_holds_at_most_20_members(client, db):
    login(client, IT_ADMINS)
    Customer.objects.bulk_create(
        Customer(email=f"c{n:02}@shop.example", marketing_consent=True) for n in range(25)
    )
    segment = Segment.objects.create(name="Everyone", conditions=[])

    page = client.get(change_url(segment)).content.decode()

    assert "<strong>25</strong> members, <strong>25</strong> eligible" in page
    assert page.count("<tr><td>c") == 20
    assert "c19@shop.example" in page
    assert "c20@shop.example" not in page


def test_changing_a_segment_removes_and_adds_conditions(client, shoppers):
    login(client, IT_ADMINS)
    segment = Segment.objects.create(name="Size", conditions=SIZE_30_DAYS)
    rows = [
        {**SIZE_ROWS[0], "min_amount": "10", "max_amount": "50.5"},
        {**SIZE_ROWS[1], "DELETE": True},
        {"subject": "field:marketing_consent", "op": "eq", "value": "True"},
        {"subject": "field:last_event_at", "op": "gt", "days": "7"},
    ]
    data = segment_form(rows, name="Size", match="any")
    data["conditions-INITIAL_FORMS"] = "2"

    response = client.post(change_url(segment), data)

    assert response.status_code == 302, error_texts(response)
    segment.refresh_from_db()
    assert segment.match == "any"
    assert segment.conditions == [
        {
            "event": "refund.processed",
            "within_days": 30,
            "reason": "Too small",
            "min_amount": "10",
            "max_amount": "50.5",
        },
        {"field": "marketing_consent", "op": "eq", "value": True},
        {"field": "last_event_at", "op": "gt", "days_ago": 7},
    ]


@pytest.mark.parametrize(
    ("rows", "errors"),
    [
        (
            [{"subject": "field:returns_count", "op": "gt", "value": "many"}],
            ["Condition 1 (returns_count): the value must be a whole number, not 'many'."],
        ),
        (
            [SIZE_ROWS[0], {"subject": "event:refund.processed", "op": "eq", "value": "x"}],
            [
                "Condition 2 (event refund.processed): unknown key(s) op, value; an event "
                "condition takes event, within_days, reason, min_amount, max_amount."
            ],
        ),
        (
            [{"subject": "field:tags", "op": "gt", "value": "vip"}],
            [
                "Condition 1 (tags): the operator must be one of contains (contains), ne (does "
                "not equal), in (is one of), set (is set), not 'gt'."
            ],
        ),
        (
            [{"op": "eq", "value": "de"}],
            ["Condition 1 needs a customer field or an event type."],
        ),
        (
            [{"subject": "field:marketing_consent", "op": "eq", "value": "maybe"}],
            ["Condition 1 (marketing_consent): the value must be true or false."],
        ),
        (
            [{"subject": "event:refund.processed", "days": "0"}],
            ["Condition row 1, days: Ensure this value is greater than or equal to 1."],
        ),
    ],
)
def test_bad_conditions_are_form_errors_and_change_nothing(client, db, rows, errors):
    login(client, IT_ADMINS)
    segment = Segment.objects.create(name="Size", conditions=SIZE_30_DAYS)
    data = segment_form(rows, name="Size")
    data["conditions-INITIAL_FORMS"] = "2"

    response = client.post(change_url(segment), data)

    assert response.status_code == 200
    assert error_texts(response) == errors
    segment.refresh_from_db()
    assert segment.conditions == SIZE_30_DAYS
    assert response.context["adminform"].form.non_field_errors() == errors


def test_the_add_page_has_the_condition_rows_and_no_count_yet(client, db):
    login(client, IT_ADMINS)

    response = client.get(ADD_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="conditions-0-subject"' in page
    assert '<option value="event:refund.processed">' in page
    assert "members, <strong>" not in page


def test_managers_have_no_access(client, db):
    login(client, MANAGERS)
    segment = Segment.objects.create(name="Size", conditions=SIZE_30_DAYS)

    statuses = [
        client.get(reverse("admin:returns_mail_segment_changelist")).status_code,
        client.get(ADD_URL).status_code,
        client.get(change_url(segment)).status_code,
        client.post(change_url(segment), segment_form([], name="Changed")).status_code,
    ]

    assert statuses == [403, 403, 403, 403]
    assert Segment.objects.get().name == "Size"


def test_a_view_only_user_sees_the_count_but_no_condition_rows(client, shoppers):
    user = login(client, MANAGERS)
    user.user_permissions.add(Permission.objects.get(codename="view_segment"))
    segment = Segment.objects.create(name="Size", conditions=SIZE_30_DAYS)

    response = client.get(change_url(segment))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>4</strong> members, <strong>1</strong> eligible" in page
    assert "conditions-0-subject" not in page
    assert "&quot;within_days&quot;: 30" in page  # the stored JSON, read-only
    response = client.post(change_url(segment), segment_form([], name="Changed"))
    assert response.status_code == 403
    assert Segment.objects.get().name == "Size"
