"""IT admins read events and messages in the admin, and resend or cancel messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from returns_mail.models import AccountCircuit, Attempt, Message, MessageStatus
from returns_mail.roles import IT_ADMINS
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

MESSAGES_URL = reverse("admin:returns_mail_message_changelist")


@pytest.fixture
def outbox(ingest, make_rule, make_account):
    """Two events' messages, left queued (their sends are not run)."""
    account = make_account("sendgrid", name="SendGrid main")
    rule = make_rule(
        "refund.processed", accounts=[account], internal_recipients=["ops@shop.example"]
    )
    event = ingest("refund.processed", execute=False)
    other = ingest("return.approved", execute=False, return_id="RMA-2002")
    return {"account": account, "rule": rule, "event": event, "other": other}


def run_action(client, action: str, messages: list[Message]):
    return client.post(
        MESSAGES_URL,
        {"action": action, "_selected_action": [m.pk for m in messages]},
        follow=True,
    )


def notices(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- events -------------------------------------------------------------------------------------
def test_events_are_listed_searched_and_shown_with_their_messages(client, outbox):
    login(client, IT_ADMINS)
    event = outbox["event"]
    changelist = reverse("admin:returns_mail_returnevent_changelist")

    by_return = client.get(changelist, {"q": "RMA-1001"})
    by_email = client.get(changelist, {"q": "ada.customer@example.com"})
    by_type = client.get(changelist, {"type": "return.approved"})
    page = client.get(reverse("admin:returns_mail_returnevent_change", args=[event.pk]))

    assert [e.pk for e in by_return.context["cl"].result_list] == [event.pk]
    assert len(by_email.context["cl"].result_list) == 2
    assert [e.pk for e in by_type.context["cl"].result_list] == [outbox["other"].pk]
    assert page.status_code == 200
    content = page.content.decode()
    assert "&quot;amount&quot;: &quot;89.80&quot;" in content  # the event's data, as JSON
    inline = page.context["inline_admin_formsets"][0].formset
    assert sorted(m.recipient for m in inline.queryset) == [
        "ada.customer@example.com",
        "ops@shop.example",
    ]
    assert reverse("admin:returns_mail_triggerrule_test", args=[outbox["rule"].pk]) in content


def test_events_cannot_be_added_changed_or_deleted(client, outbox):
    login(client, IT_ADMINS)
    event = outbox["event"]

    assert client.get(reverse("admin:returns_mail_returnevent_add")).status_code == 403
    change = client.post(
        reverse("admin:returns_mail_returnevent_change", args=[event.pk]), {"return_id": "X"}
    )
    delete = client.post(
        reverse("admin:returns_mail_returnevent_delete", args=[event.pk]), {"post": "yes"}
    )

    assert change.status_code == 403
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.return_id == "RMA-1001"


# --- messages -----------------------------------------------------------------------------------
def test_messages_filter_by_status_account_rule_and_event_type(client, outbox):
    login(client, IT_ADMINS)
    sent = Message.objects.get(recipient="ops@shop.example")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT, account=outbox["account"])

    def listed(**params):
        response = client.get(MESSAGES_URL, params)
        assert response.status_code == 200
        return sorted(m.pk for m in response.context["cl"].result_list)

    assert listed(status="sent") == [sent.pk]
    assert listed(account__id__exact=outbox["account"].pk) == [sent.pk]
    assert len(listed(rule__id__exact=outbox["rule"].pk)) == 2
    assert len(listed(event__type="refund.processed")) == 2
    assert listed(event__type="return.approved") == []


def test_a_message_is_read_only_and_shows_its_attempts(client, outbox):
    login(client, IT_ADMINS)
    message = Message.objects.get(recipient="ops@shop.example")
    Attempt.objects.create(
        message=message,
        account=outbox["account"],
        started_at=timezone.now(),
        duration_ms=12.5,
        outcome="transient",
        http_status=503,
        error="Service Unavailable: try again",
    )
    url = reverse("admin:returns_mail_message_change", args=[message.pk])

    page = client.get(url)
    post = client.post(url, {"recipient": "someone@else.example"})

    assert page.status_code == 200
    # The attempts inline (the customer's replies have one of their own).
    [attempts] = [f for f in page.context["inline_admin_formsets"] if f.formset.model is Attempt]
    assert [a.http_status for a in attempts.formset.queryset] == [503]
    assert "Service Unavailable: try again" in page.content.decode()
    assert post.status_code == 403
    message.refresh_from_db()
    assert message.recipient == "ops@shop.example"


def test_resend_creates_a_linked_message_and_reports_those_it_could_not_resend(client, outbox):
    login(client, IT_ADMINS)
    sent = Message.objects.get(recipient="ops@shop.example")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.BOUNCED)
    queued = Message.objects.get(recipient="ada.customer@example.com")
    before = Message.objects.count()

    response = run_action(client, "resend", [sent, queued])

    assert Message.objects.count() == before + 1
    copy = Message.objects.get(resend_of=sent)
    assert (copy.event_id, copy.rule_id, copy.recipient, copy.template_version_id) == (
        sent.event_id,
        sent.rule_id,
        sent.recipient,
        sent.template_version_id,
    )
    assert copy.status == MessageStatus.QUEUED
    assert not Message.objects.filter(resend_of=queued).exists()
    assert notices(response) == [
        f"Resent 1 message(s): {sent.pk} → {copy.pk}.",
        f"Not resent: {queued.pk} (the message is still being sent; cancel it or wait).",
    ]


def test_cancel_only_affects_queued_messages(client, outbox):
    login(client, IT_ADMINS)
    sent = Message.objects.get(recipient="ops@shop.example")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT)
    queued = Message.objects.get(recipient="ada.customer@example.com")

    response = run_action(client, "cancel", [sent, queued])

    queued.refresh_from_db()
    sent.refresh_from_db()
    assert queued.status == MessageStatus.CANCELLED
    assert sent.status == MessageStatus.SENT
    assert notices(response) == [
        f"Cancelled 1 message(s): {queued.pk}.",
        f"Skipped 1, not queued: {sent.pk} (sent).",
    ]


# --- account circuits ---------------------------------------------------------------------------
def test_open_circuits_are_listed_with_their_last_error(client, make_account):
    login(client, IT_ADMINS)
    account = make_account("sendgrid", name="SendGrid main")
    now = timezone.now()
    circuit = AccountCircuit.objects.create(
        account=account,
        consecutive_failures=5,
        opened_at=now,
        open_until=now + timedelta(seconds=60),
        last_error="HTTP 503 from SendGrid: service unavailable",
    )

    page = client.get(reverse("admin:returns_mail_accountcircuit_changelist"))
    detail = client.get(reverse("admin:returns_mail_accountcircuit_change", args=[circuit.pk]))

    content = page.content.decode()
    assert "SendGrid main" in content
    assert "HTTP 503 from SendGrid: service unavailable" in content
    assert "open: skipped, rules fail over" in content
    assert detail.status_code == 200
    assert client.get(reverse("admin:returns_mail_accountcircuit_add")).status_code == 403
