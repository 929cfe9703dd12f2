"""IT admins write trigger rules in the admin without code, and try them without sending."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from returns_mail.models import Message, RuleAccount, TriggerRule
from returns_mail.roles import IT_ADMINS
from returns_mail.services.suppression import suppression_add
from tests.returns_mail.test_admin_support import error_texts, login, refund_data

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:returns_mail_triggerrule_add")


def rule_form(template, accounts, **overrides) -> dict:
    """The add form as the browser posts it: two condition rows, one route row per account."""
    data = {
        "name": "Refund confirmation",
        "event_type": "refund.processed",
        "enabled": "on",
        "priority": "10",
        "match": "all",
        "template": template.pk,
        "pinned_version": "",
        "send_to_customer": "on",
        "internal_recipients": "warehouse@shop.example\n\n finance@shop.example \n",
        "delay_minutes": "0",
        "cancel_on": ["return.cancelled"],
        "routing": "failover",
        "conditions-TOTAL_FORMS": "3",
        "conditions-INITIAL_FORMS": "0",
        "conditions-0-field": "refund.amount",
        "conditions-0-op": "gt",
        "conditions-0-value": "50",
        "conditions-1-field": "items[].reason",
        "conditions-1-op": "in",
        "conditions-1-value": "Too small, Damaged",
        # the third row is left empty, as the browser sends a blank extra row
        "conditions-2-field": "",
        "conditions-2-op": "",
        "conditions-2-value": "",
        "route-TOTAL_FORMS": str(len(accounts)),
        "route-INITIAL_FORMS": "0",
    }
    for index, (account, weight) in enumerate(accounts):
        data[f"route-{index}-account"] = account.pk
        data[f"route-{index}-position"] = str(index)
        data[f"route-{index}-weight"] = str(weight)
    data.update(overrides)
    return data


def test_creating_a_rule_writes_its_conditions_recipients_and_route(
    client, templates, make_account
):
    login(client, IT_ADMINS)
    primary, fallback = make_account("sendgrid"), make_account("mailchimp_transactional")
    template = templates["refund.processed"]

    response = client.post(ADD_URL, rule_form(template, [(primary, 1), (fallback, 1)]))

    assert response.status_code == 302, error_texts(response)
    rule = TriggerRule.objects.get()
    assert rule.name == "Refund confirmation"
    assert rule.event_type == "refund.processed"
    assert rule.template == template
    assert rule.pinned_version is None
    assert rule.conditions == [
        {"field": "refund.amount", "op": "gt", "value": "50"},
        {"field": "items[].reason", "op": "in", "value": ["Too small", "Damaged"]},
    ]
    assert rule.match == "all"
    assert rule.internal_recipients == ["warehouse@shop.example", "finance@shop.example"]
    assert rule.cancel_on == ["return.cancelled"]
    assert rule.routing == "failover"
    assert list(rule.route.values_list("account", "position", "weight")) == [
        (primary.pk, 0, 1),
        (fallback.pk, 1, 1),
    ]

    # Editing it again shows the conditions as rows and the recipients one per line.
    page = client.get(reverse("admin:returns_mail_triggerrule_change", args=[rule.pk]))
    form = page.context["adminform"].form
    assert [row.initial for row in form.conditions.initial_forms] == [
        {"field": "refund.amount", "op": "gt", "value": "50"},
        {"field": "items[].reason", "op": "in", "value": "Too small, Damaged"},
    ]
    assert 'value="items[].reason"' in page.content.decode()
    assert form.initial["internal_recipients"] == "warehouse@shop.example\nfinance@shop.example"


def test_a_pinned_version_of_the_rules_template_and_a_weighted_split_are_accepted(
    client, templates, make_account
):
    login(client, IT_ADMINS)
    a, b = make_account("sendgrid"), make_account("mailchimp_transactional")
    template = templates["refund.processed"]

    response = client.post(
        ADD_URL,
        rule_form(
            template,
            [(a, 3), (b, 1)],
            routing="weighted",
            pinned_version=template.active_version_id,
            **{"conditions-0-op": "set", "conditions-0-value": ""},
        ),
    )

    assert response.status_code == 302, error_texts(response)
    rule = TriggerRule.objects.get()
    assert rule.pinned_version_id == template.active_version_id
    assert rule.conditions[0] == {"field": "refund.amount", "op": "set"}
    assert sorted(rule.route.values_list("weight", flat=True)) == [1, 3]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad field", "Condition 1: refund.processed events have no field “refund.amout”"),
        ("bad operator", "Condition 2: the operator must be one of eq, ne, in"),
        ("missing value", "Condition 1 needs a value."),
        ("pinned version of another template", "is a version of another template"),
        ("single with two accounts", "“One account” routing takes exactly one account, not 2"),
        ("no account", "Add at least one active provider account to the route."),
        ("inactive account only", "Add at least one active provider account to the route."),
        ("zero weight", "every account needs a weight above 0"),
        ("template for another event type", "is made for return.approved, not for"),
        ("bad internal address", "Not an email address: warehouse-at-shop"),
        ("nobody to send to", "Send to the customer, or add at least one internal recipient."),
    ],
)
def test_each_invalid_rule_is_a_form_error_and_writes_nothing(
    client, templates, make_account, case, expected
):
    login(client, IT_ADMINS)
    a, b = make_account("sendgrid"), make_account("mailchimp_transactional")
    template = templates["refund.processed"]
    accounts = [(a, 1)]
    overrides = {
        "bad field": {"conditions-0-field": "refund.amout"},
        "bad operator": {"conditions-1-op": "like"},
        "missing value": {"conditions-0-value": ""},
        "pinned version of another template": {
            "pinned_version": templates["return.approved"].active_version_id
        },
        "single with two accounts": {"routing": "single"},
        "no account": {},
        "inactive account only": {},
        "zero weight": {"routing": "weighted"},
        "template for another event type": {},
        "bad internal address": {"internal_recipients": "ok@shop.example\nwarehouse-at-shop"},
        "nobody to send to": {"send_to_customer": "", "internal_recipients": ""},
    }[case]
    if case == "single with two accounts":
        accounts = [(a, 1), (b, 1)]
    elif case == "no account":
        accounts = []
    elif case == "inactive account only":
        a.is_active = False
        a.save(update_fields=["is_active"])
    elif case == "zero weight":
        accounts = [(a, 1), (b, 0)]
    elif case == "template for another event type":
        template = templates["return.approved"]

    response = client.post(ADD_URL, rule_form(template, accounts, **overrides))

    assert response.status_code == 200
    assert any(expected in text for text in error_texts(response)), error_texts(response)
    assert not TriggerRule.objects.exists()
    assert not RuleAccount.objects.exists()


def test_mailchimp_marketing_accounts_cannot_be_in_a_route(client, templates, make_account):
    login(client, IT_ADMINS)
    marketing = make_account("mailchimp_marketing")

    response = client.post(ADD_URL, rule_form(templates["refund.processed"], [(marketing, 1)]))

    assert response.status_code == 200
    assert any("Select a valid choice" in text for text in error_texts(response))
    assert not TriggerRule.objects.exists()


# --- "Test this rule" ---------------------------------------------------------------------------
def trial_url(rule) -> str:
    return reverse("admin:returns_mail_triggerrule_test", args=[rule.pk])


def test_trying_a_rule_on_a_sample_shows_the_match_route_suppression_and_email(
    client, make_rule, make_account, esp_sandbox
):
    login(client, IT_ADMINS)
    account = make_account("sendgrid", name="SendGrid main")
    rule = make_rule(
        "refund.processed",
        accounts=[account],
        conditions=[{"field": "refund.amount", "op": "gt", "value": "50"}],
        internal_recipients=["blocked@shop.example"],
    )
    suppression_add(email="blocked@shop.example", reason="manual")

    response = client.get(trial_url(rule), {"sample": "refund.processed"})

    assert response.status_code == 200
    trial = response.context["trial"]
    assert trial.matched is True
    assert trial.reasons == ["refund.amount gt 50: holds"]
    assert trial.recipients == [
        {
            "email": "ada.customer@example.com",
            "internal": False,
            "suppressed": False,
            "accounts": ["SendGrid main"],
            "refusal": "",  # a transactional template: the consent gate does not apply
        },
        {
            "email": "blocked@shop.example",
            "internal": True,
            "suppressed": True,
            "accounts": ["SendGrid main"],
            "refusal": "",
        },
    ]
    page = response.content.decode()
    assert '<span id="trial-subject">Your refund of 89.80 EUR is on its way</span>' in page
    assert '<iframe id="trial-html" sandbox=""' in page
    srcdoc = html.unescape(page.split('srcdoc="')[1].split('"')[0])
    assert "89.80 EUR" in srcdoc
    assert "yes: it would be recorded as suppressed, not sent" in page
    # A dry run: nothing reached a provider, nothing was written to the outbox.
    assert esp_sandbox.records() == []
    assert not Message.objects.exists()


def test_trying_a_rule_on_a_stored_event_that_does_not_match_sends_nothing(
    client, ingest, make_rule, make_account, esp_sandbox
):
    login(client, IT_ADMINS)
    event = ingest("refund.processed", data=refund_data("10.00"))
    rule = make_rule(
        "refund.processed",
        accounts=[make_account("sendgrid")],
        conditions=[{"field": "refund.amount", "op": "gt", "value": "50"}],
    )

    response = client.get(trial_url(rule), {"sample": "refund.processed", "event_id": event.pk})

    assert response.status_code == 200
    trial = response.context["trial"]
    assert trial.matched is False
    assert trial.reasons == ["refund.amount gt 50: does not hold"]
    assert trial.rendered is None
    assert f"stored event {event.pk}" in response.context["source"]
    assert "Does not match" in response.content.decode()
    assert esp_sandbox.records() == []
    assert not Message.objects.exists()


def test_trying_a_rule_on_a_stored_event_that_matches_renders_its_data(
    client, ingest, make_rule, make_account, esp_sandbox
):
    login(client, IT_ADMINS)
    event = ingest("refund.processed", data=refund_data("120.00"))
    rule = make_rule(
        "refund.processed",
        accounts=[make_account("sendgrid")],
        conditions=[{"field": "refund.amount", "op": "gt", "value": "50"}],
    )

    response = client.get(trial_url(rule), {"event_id": event.pk})

    trial = response.context["trial"]
    assert trial.matched is True
    assert trial.rendered.subject == "Your refund of 120.00 EUR is on its way"
    assert esp_sandbox.records() == []
    assert not Message.objects.exists()


def test_trying_a_rule_on_another_event_type_or_an_unknown_event(client, make_rule):
    login(client, IT_ADMINS)
    rule = make_rule("refund.processed")

    other = client.get(trial_url(rule), {"sample": "return.approved"})
    unknown = client.get(trial_url(rule), {"event_id": 999999})

    assert other.context["trial"].matched is False
    assert other.context["trial"].reasons == [
        "the rule is for refund.processed, not return.approved"
    ]
    assert unknown.context["trial"] is None
    assert unknown.context["form"].errors["event_id"] == [
        "There is no stored event with id 999999."
    ]
