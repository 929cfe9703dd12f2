"""The consent gate: promotional mail never reaches a provider without the customer's marketing
consent, to an address suppressed for promotional mail, or through an account that does not
serve promotional mail. Refused messages are rows with their reason, never silently dropped."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import Rollup
from providers.sandbox.core import Fault
from returns_mail.models import (
    Attempt,
    CampaignRecipient,
    CampaignStatus,
    Message,
    MessageRefusal,
    MessageStatus,
    ReturnEvent,
    RuleAccount,
    TriggerRule,
)
from returns_mail.roles import IT_ADMINS
from returns_mail.services.campaign_chunks import chunk_claim_next, chunk_send
from returns_mail.services.campaigns import CampaignError, campaign_start
from returns_mail.services.events import messages_plan_many
from returns_mail.services.messages import message_resend
from returns_mail.services.routing import route
from returns_mail.services.sending import message_send
from returns_mail.services.suppression import suppression_add
from returns_mail.signals import message_transitioned
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template
from tests.returns_mail.test_admin_rules import ADD_URL, rule_form
from tests.returns_mail.test_admin_support import error_texts, login
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    EVENTS,
    api_client_fixture,
    api_fixture,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
)
from tests.returns_mail.test_campaigns import no_runners, start  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

CUSTOMER = "ada.customer@example.com"
STAFF = "warehouse@shop.example"
KINDS = ("sendgrid", "mailchimp_transactional", "smtp")
ROUTINGS = ("single", "failover", "weighted")


@pytest.fixture
def offer(make_template):
    """A promotional template for refund.processed events (its first version, pinned by the
    rules below: no publication, no push to the sandbox)."""
    return make_template(
        name="Refund offer",
        slug="refund-offer",
        purpose="promotional",
        subject="10% off your next order",
        html="<p>Thanks {{customer.first_name}}: 10% off your next order.</p>",
    )


@pytest.fixture
def promo_rule(make_rule, offer):
    def make(accounts, **fields) -> TriggerRule:
        return make_rule(
            template=offer, pinned_version=offer.versions.get(), accounts=accounts, **fields
        )

    return make


def mentions(esp_sandbox, email: str) -> list[dict]:
    """Every request any provider of the sandbox received that names `email` (whatever the
    provider's payload shape: SendGrid's JSON, Mandrill's JSON, an SMTP envelope)."""
    return [r for r in esp_sandbox.records() if email in json.dumps(r, default=str)]


def refused(message: Message, reason: str, *, at_planning: bool = True) -> bool:
    """Whether `message` was refused for `reason` and never handed to a provider; at planning:
    no worker ever claimed it (a send-time refusal is a claimed attempt)."""
    message.refresh_from_db()
    return (
        message.status == MessageStatus.SUPPRESSED
        and message.refusal == reason
        and message.error != ""
        and message.account is None
        and not message.attempt_log.exists()
        and (message.claimed_at is None) == at_planning
    )


def route_of(make_account, kind: str, routing: str, **fields):
    """A route of `routing` whose accounts are all of `kind`, with `fields` (e.g. a purpose)."""
    count = 1 if routing == "single" else 2
    return [make_account(kind, **fields) for _ in range(count)]


# --- planning refuses ---------------------------------------------------------------------------
@pytest.mark.parametrize("routing", ROUTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_promotional_mail_reaches_any_provider_without_consent(
    kind, routing, make_account, promo_rule, ingest, esp_sandbox
):
    promo_rule(route_of(make_account, kind, routing), routing=routing, internal_recipients=[STAFF])

    event = ingest(marketing_consent=False)

    customer = event.messages.get(recipient=CUSTOMER)
    assert refused(customer, MessageRefusal.NO_MARKETING_CONSENT)
    assert "marketing consent" in customer.error
    assert mentions(esp_sandbox, CUSTOMER) == []
    # Consent is the customer's: the rule's fixed staff address still gets its copy.
    staff = event.messages.get(recipient=STAFF)
    assert staff.status == MessageStatus.SENT
    assert len(mentions(esp_sandbox, STAFF)) == 1


@pytest.mark.parametrize("routing", ROUTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_promotional_mail_goes_through_a_transactional_only_route(
    kind, routing, make_account, promo_rule, ingest, esp_sandbox
):
    promo_rule(
        route_of(make_account, kind, routing, purpose="transactional"),
        routing=routing,
        internal_recipients=[STAFF],
    )

    event = ingest(marketing_consent=True)

    for message in event.messages.all():
        assert refused(message, MessageRefusal.NO_PROMOTIONAL_ACCOUNT), message.recipient
    assert esp_sandbox.records() == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scope", ["promotional", "all"])
def test_no_promotional_mail_to_an_address_suppressed_for_it(
    kind, scope, make_account, promo_rule, ingest, esp_sandbox
):
    promo_rule([make_account(kind)], internal_recipients=[STAFF])
    suppression_add(email=CUSTOMER.upper(), reason="unsubscribe", scope=scope)
    suppression_add(email=STAFF, reason="manual", scope=scope)  # staff: suppression applies

    event = ingest(marketing_consent=True)

    for message in event.messages.all():
        assert refused(message, MessageRefusal.SUPPRESSED_ADDRESS), message.recipient
    assert esp_sandbox.records() == []


@pytest.mark.parametrize("routing", ROUTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_promotional_mail_to_a_consenting_unsuppressed_customer_goes_out(
    kind, routing, make_account, promo_rule, ingest, esp_sandbox
):
    accounts = route_of(make_account, kind, routing, purpose="promotional")
    promo_rule(accounts, routing=routing)

    message = ingest(marketing_consent=True).messages.get()

    assert message.status == MessageStatus.SENT
    assert (message.refusal, message.error) == ("", "")
    assert message.account in accounts
    [record] = mentions(esp_sandbox, CUSTOMER)
    assert "10% off your next order" in json.dumps(record, default=str)


def test_transactional_mail_does_not_need_consent(make_rule, make_account, ingest, esp_sandbox):
    make_rule(accounts=[make_account("sendgrid", purpose="transactional")])

    message = ingest(marketing_consent=False).messages.get()

    assert (message.status, message.refusal) == (MessageStatus.SENT, "")
    assert len(mentions(esp_sandbox, CUSTOMER)) == 1


def test_a_refused_message_gets_no_send_task_and_the_refusal_is_one_signal(
    make_account, promo_rule, ingest, django_capture_on_commit_callbacks
):
    promo_rule([make_account("sendgrid")])
    seen = []

    def receive(sender, **kwargs):
        seen.append(
            (kwargs["transition"], len(kwargs["message_ids"]), kwargs["old"], kwargs["new"])
        )

    message_transitioned.connect(receive, sender=Message, weak=False)
    try:
        ingest(marketing_consent=False, execute=False)
    finally:
        message_transitioned.disconnect(receive, sender=Message)

    assert seen == [("refused", 1, "queued", "suppressed")]
    # Nothing claimed it: the only task queued is the customers one.
    message = Message.objects.get()
    assert (message.status, message.attempts, message.claimed_at) == ("suppressed", 0, None)


def test_a_batch_is_planned_with_one_suppression_query_whatever_its_size(
    make_account, promo_rule, returns_system
):
    promo_rule([make_account("sendgrid")], internal_recipients=[STAFF])
    suppression_add(email="c3@example.com", reason="unsubscribe", scope="promotional")

    def plan(count: int) -> tuple[int, list[Message]]:
        events = [
            ReturnEvent.objects.create(
                client=returns_system,
                idempotency_key=f"k-{count}-{i}",
                request_digest="d",
                type="refund.processed",
                occurred_at=timezone.now(),
                return_id=f"RMA-{count}-{i}",
                customer_email=f"c{i}@example.com",
                marketing_consent=i % 2 == 1,
                data={},
            )
            for i in range(count)
        ]
        messages_plan_many(events=events)  # warms the configuration caches
        Message.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            planned = messages_plan_many(events=events)
        return len(queries), planned

    small, _ = plan(2)
    large, planned = plan(12)

    assert small == large
    reasons = {m.recipient: m.refusal for m in planned if m.recipient != STAFF}
    assert reasons["c0@example.com"] == MessageRefusal.NO_MARKETING_CONSENT
    assert reasons["c1@example.com"] == ""
    assert reasons["c3@example.com"] == MessageRefusal.SUPPRESSED_ADDRESS
    stored = dict(Message.objects.exclude(recipient=STAFF).values_list("recipient", "refusal"))
    assert stored == reasons


# --- the API's answer ---------------------------------------------------------------------------
def test_the_api_answers_each_refusal_with_its_reason_and_a_replay_shows_the_same(
    api, make_account, promo_rule, esp_sandbox, django_capture_on_commit_callbacks
):
    promo_rule([make_account("sendgrid")], name="Spring offer", internal_recipients=[STAFF])
    body = event_body()
    body["customer"]["marketing_consent"] = False

    with django_capture_on_commit_callbacks(execute=True):
        first = post_json(api, EVENTS, body, HTTP_IDEMPOTENCY_KEY="offer-1")
    with django_capture_on_commit_callbacks(execute=True):
        again = post_json(api, EVENTS, body, HTTP_IDEMPOTENCY_KEY="offer-1")

    assert first.status_code == again.status_code == 202
    customer = Message.objects.get(recipient=CUSTOMER)
    staff = Message.objects.get(recipient=STAFF)
    assert first.json()["messages"] == [
        {
            "id": customer.pk,
            "rule": "Spring offer",
            "recipient": CUSTOMER,
            "status": "suppressed",
            "reason": "no_marketing_consent",
            "reason_text": customer.error,
        },
        {
            "id": staff.pk,
            "rule": "Spring offer",
            "recipient": STAFF,
            "status": "queued",
            "reason": None,
            "reason_text": None,
        },
    ]
    assert "marketing consent" in customer.error
    assert again["Idempotent-Replay"] == "true"
    replayed = again.json()["messages"]
    assert replayed[0] == first.json()["messages"][0]
    assert (replayed[1]["status"], replayed[1]["reason"]) == ("sent", None)  # read again
    assert mentions(esp_sandbox, CUSTOMER) == []
    # Reading the event back shows the same reasons.
    detail = api.get(f"{EVENTS}/{first.json()['id']}").json()
    reasons = {m["recipient"]: (m["status"], m["reason"]) for m in detail["messages"]}
    assert reasons == {CUSTOMER: ("suppressed", "no_marketing_consent"), STAFF: ("sent", None)}


# --- send time: the second line -----------------------------------------------------------------
def test_an_unsubscribe_before_a_delayed_send_stops_it_with_the_reason(
    make_account, promo_rule, ingest, esp_sandbox
):
    promo_rule([make_account("sendgrid")], delay_minutes=60)
    message = ingest(marketing_consent=True).messages.get()
    assert message.status == MessageStatus.QUEUED  # planned: consent was given

    suppression_add(email=CUSTOMER, reason="unsubscribe", scope="promotional")
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now() - timedelta(seconds=1))
    message_send(message_id=message.pk)

    assert refused(message, MessageRefusal.SUPPRESSED_ADDRESS, at_planning=False)
    assert esp_sandbox.records() == []


def test_a_resend_of_a_refused_message_is_refused_again(
    make_account, promo_rule, ingest, esp_sandbox, django_capture_on_commit_callbacks
):
    promo_rule([make_account("sendgrid")])
    original = ingest(marketing_consent=False).messages.get()

    with django_capture_on_commit_callbacks(execute=True):
        copy = message_resend(message_id=original.pk)

    assert refused(copy, MessageRefusal.NO_MARKETING_CONSENT, at_planning=False)
    assert esp_sandbox.records() == []


def test_an_account_changed_to_transactional_after_planning_never_gets_the_promotional_mail(
    make_account, promo_rule, ingest, esp_sandbox
):
    account = make_account("sendgrid")
    promo_rule([account], delay_minutes=60)
    message = ingest(marketing_consent=True).messages.get()
    account.purpose = "transactional"
    account.save()

    Message.objects.filter(pk=message.pk).update(send_after=timezone.now() - timedelta(seconds=1))
    message_send(message_id=message.pk)

    assert refused(message, MessageRefusal.NO_PROMOTIONAL_ACCOUNT, at_planning=False)
    assert esp_sandbox.records() == []


def test_transactional_mail_on_a_promotional_only_route_fails_with_the_reason(
    make_rule, make_account, ingest, esp_sandbox
):
    make_rule(accounts=[make_account("sendgrid", purpose="promotional")])

    message = ingest().messages.get()

    assert (message.status, message.refusal) == (
        MessageStatus.FAILED,
        MessageRefusal.NO_TRANSACTIONAL_ACCOUNT,
    )
    assert "transactional" in message.error
    assert esp_sandbox.records() == []


@pytest.mark.parametrize("routing", ["failover", "weighted"])
def test_failover_never_moves_promotional_mail_onto_a_transactional_only_account(
    routing, make_account, promo_rule, ingest, esp_sandbox
):
    promotional = make_account("sendgrid", purpose="promotional")
    transactional = make_account("mailchimp_transactional", purpose="transactional")
    rule = promo_rule([promotional, transactional], routing=routing)
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503"))

    message = ingest(marketing_consent=True).messages.get()
    for _ in range(5):
        Message.objects.filter(pk=message.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        message_send(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED  # retried on the one account that may send it
    assert set(message.attempt_log.values_list("account", flat=True)) == {promotional.pk}
    assert esp_sandbox.records("mandrill") == []
    assert route(rule, CUSTOMER, purpose="promotional") == [promotional]
    assert route(rule, CUSTOMER, purpose="transactional") == [transactional]


def test_failover_never_moves_transactional_mail_onto_a_promotional_only_account(
    make_rule, make_account, ingest, esp_sandbox
):
    transactional = make_account("sendgrid", purpose="transactional")
    promotional = make_account("mailchimp_transactional", purpose="promotional")
    make_rule(accounts=[transactional, promotional])
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503"))

    message = ingest().messages.get()
    for _ in range(4):
        Message.objects.filter(pk=message.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        message_send(message_id=message.pk)

    assert set(Attempt.objects.values_list("account", flat=True)) == {transactional.pk}
    assert esp_sandbox.records("mandrill") == []


# --- the rule form ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template_purpose", "account_purpose"),
    [("promotional", "transactional"), ("transactional", "promotional")],
)
def test_the_rule_form_rejects_a_route_that_cannot_carry_the_templates_mail(
    client, templates, make_account, offer, template_purpose, account_purpose
):
    login(client, IT_ADMINS)
    account = make_account("sendgrid", name="SendGrid receipts", purpose=account_purpose)
    if template_purpose == "promotional":
        template, pinned = offer, offer.versions.get().pk
    else:
        template, pinned = templates["refund.processed"], ""

    response = client.post(
        ADD_URL, rule_form(template, [(account, 1)], pinned_version=pinned, cancel_on=[])
    )

    assert response.status_code == 200
    expected = f"is a {template_purpose} template, but no active account of the route sends"
    assert any(expected in text for text in error_texts(response)), error_texts(response)
    assert any("SendGrid receipts" in text for text in error_texts(response))
    assert not TriggerRule.objects.exists()
    assert not RuleAccount.objects.exists()


def test_changing_a_rules_route_later_is_checked_too(
    client, make_account, promo_rule, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS)
    both = make_account("sendgrid", purpose="both")
    receipts = make_account("mailchimp_transactional", purpose="transactional")
    rule = promo_rule([both])
    link = rule.route.get()
    data = rule_form(rule.template, [], pinned_version=rule.pinned_version_id, cancel_on=[])
    data.update(
        {
            "name": rule.name,
            "internal_recipients": "",
            "route-TOTAL_FORMS": "2",
            "route-INITIAL_FORMS": "1",
            "route-0-id": link.pk,
            "route-0-rule": rule.pk,
            "route-0-account": both.pk,
            "route-0-position": "0",
            "route-0-weight": "1",
            "route-0-DELETE": "on",
            "route-1-rule": rule.pk,
            "route-1-account": receipts.pk,
            "route-1-position": "1",
            "route-1-weight": "1",
        }
    )

    response = client.post(reverse("admin:returns_mail_triggerrule_change", args=[rule.pk]), data)

    assert response.status_code == 200
    assert any("promotional template" in text for text in error_texts(response))
    assert list(rule.route.values_list("account", flat=True)) == [both.pk]

    # With the promotional account kept, adding the transactional one is fine (failover skips
    # it for this rule's mail).
    data.pop("route-0-DELETE")
    response = client.post(reverse("admin:returns_mail_triggerrule_change", args=[rule.pk]), data)
    assert response.status_code == 302, error_texts(response)
    assert sorted(rule.route.values_list("account", flat=True)) == sorted([both.pk, receipts.pk])


# --- what staff see -----------------------------------------------------------------------------
def test_a_refusal_shows_on_the_event_page_and_in_the_messages_admin(
    client, make_account, promo_rule, ingest
):
    promo_rule([make_account("sendgrid")])
    event = ingest(marketing_consent=False)
    message = event.messages.get()
    login(client, IT_ADMINS)

    pages = [
        client.get(reverse("admin:returns_mail_returnevent_change", args=[event.pk])),
        client.get(reverse("admin:returns_mail_message_change", args=[message.pk])),
        client.get(reverse("admin:returns_mail_message_changelist")),
        client.get(
            reverse("admin:returns_mail_message_changelist") + "?refusal=no_marketing_consent"
        ),
    ]

    for page in pages:
        assert page.status_code == 200
        assert "No marketing consent" in page.content.decode()
    for page in pages[:2]:
        assert "has not given marketing consent" in page.content.decode()


def test_trying_a_promotional_rule_on_an_event_without_consent_says_it_would_be_refused(
    client, make_account, promo_rule, ingest
):
    rule = promo_rule([make_account("sendgrid", name="Receipts", purpose="transactional")])
    event = ingest(marketing_consent=False)
    login(client, IT_ADMINS)

    response = client.get(
        reverse("admin:returns_mail_triggerrule_test", args=[rule.pk]), {"event_id": event.pk}
    )

    assert response.status_code == 200
    [recipient] = response.context["trial"].recipients
    assert recipient["accounts"] == []  # the transactional account may not carry it
    assert recipient["refusal"].startswith("no marketing consent")


def test_an_account_turned_transactional_refuses_the_next_event_at_once(
    make_account, promo_rule, ingest, esp_sandbox
):
    account = make_account("sendgrid")
    promo_rule([account])
    first = ingest(marketing_consent=True, return_id="RMA-1").messages.get()
    assert first.status == MessageStatus.SENT  # the route's purposes are cached now

    account.purpose = "transactional"
    account.save()
    second = ingest(marketing_consent=True, return_id="RMA-2").messages.get()

    assert refused(second, MessageRefusal.NO_PROMOTIONAL_ACCOUNT)
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 1


# --- campaigns ----------------------------------------------------------------------------------
def test_a_campaign_through_a_transactional_only_account_is_refused(
    make_account, make_template, esp_sandbox
):
    customers(3)
    account = make_account("sendgrid", purpose="transactional")
    campaign = make_campaign(everyone(), offer_template(make_template), account)

    with pytest.raises(CampaignError, match="is for transactional mail only"):
        campaign_start(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignRecipient.objects.exists()
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []


def test_a_refused_message_counts_as_neither_sent_nor_failed(make_account, promo_rule, ingest):
    promo_rule([make_account("sendgrid")], internal_recipients=[STAFF])

    ingest(marketing_consent=False)  # the customer's refused, the staff copy sent

    totals = Rollup.objects.filter(period="hour").aggregate(sent=Sum("sent"), failed=Sum("failed"))
    assert totals == {"sent": 1, "failed": 0}


@pytest.mark.usefixtures("no_runners")
@pytest.mark.parametrize("kind", ["sendgrid", "mailchimp_transactional"])
def test_an_unsubscribe_after_a_campaign_is_prepared_keeps_its_mail_back(
    kind, make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(3)
    account = make_account(kind)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, account), django_capture_on_commit_callbacks
    )
    suppression_add(email=emails[1].upper(), reason="unsubscribe", scope="promotional")

    chunk_send(chunk_claim_next(campaign.pk))

    assert mentions(esp_sandbox, emails[1]) == []
    assert all(len(mentions(esp_sandbox, email)) == 1 for email in (emails[0], emails[2]))
    withdrawn = CampaignRecipient.objects.get(email=emails[1])
    assert withdrawn.status == "cancelled"
    assert "suppressed for promotional mail" in withdrawn.error
    day = Rollup.objects.get(period="day", campaign_id=campaign.pk)
    assert (day.sent, day.failed) == (2, 0)


@pytest.mark.usefixtures("no_runners")
def test_a_campaign_whose_account_turns_transactional_pauses_and_sends_nothing(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(3)
    account = make_account("sendgrid")
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, account), django_capture_on_commit_callbacks
    )
    account.purpose = "transactional"
    account.save()

    chunk_send(chunk_claim_next(campaign.pk))

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "no longer sends promotional mail" in campaign.error
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []
    assert set(CampaignRecipient.objects.values_list("status", flat=True)) == {"pending"}
