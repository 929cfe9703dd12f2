"""Erasing a customer (services/erasure.py): no row anywhere names the person afterwards,
each active Mailchimp Marketing audience gets a permanent delete, a second erase and an
unknown address change nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from analytics.models import DeliveryEvent, WebhookDelivery
from config.audit import audit_record
from providers.clients import subscriber_hash
from providers.sandbox.core import Fault
from returns_mail.models import (
    AudienceErasure,
    AudienceErasureStatus,
    CampaignRecipient,
    Customer,
    Message,
    ReturnEvent,
    Suppression,
)
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services import audience
from returns_mail.services.erasure import (
    ErasureError,
    audience_erasures_sweep,
    customer_erase,
)
from returns_mail.services.suppression import suppression_add
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

EMAIL = "ada.customer@example.com"  # the catalogue's sample customer (ingest fixture)
NAME = "Ada Lovelace"
OTHER = "bob.other@example.com"
KEY = TEST_KEYS["mailchimp_marketing"]
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


@pytest.fixture(autouse=True)
def _merge_fields_not_ensured():
    audience._ensured.clear()
    yield
    audience._ensured.clear()


def delete_path(audience_id: str, email: str = EMAIL) -> str:
    return f"/3.0/lists/{audience_id}/members/{subscriber_hash(email)}/actions/delete-permanent"


def rows_naming(*needles: str) -> list[str]:
    """Every (model.field, pk) of the project's and the admin's tables holding a needle."""
    found = []
    needles = tuple(n.lower() for n in needles)
    labels = ("providers", "templates_lib", "returns_mail", "analytics", "admin", "django_q")
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in labels or meta.proxy or not meta.managed:
            continue
        fields = [f.name for f in meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        if not fields:
            continue
        for row in model.objects.values("pk", *fields):
            for name in fields:
                text = str(row[name]).lower()
                if any(n in text for n in needles):
                    found.append(f"{meta.label}.{name} #{row['pk']}")
    return found


def table_snapshot() -> dict:
    return {
        model._meta.label: sorted(map(repr, model.objects.values_list()))
        for model in (
            ReturnEvent,
            Message,
            CampaignRecipient,
            Customer,
            Suppression,
            DeliveryEvent,
            WebhookDelivery,
            AudienceErasure,
            LogEntry,
        )
    }


@pytest.fixture
def world(
    client, make_account, make_rule, ingest, make_template, django_capture_on_commit_callbacks
):
    """Ada everywhere: events, messages, her customer record synced to two audiences, a
    campaign recipient, delivery events and raw webhooks, a suppression, audit entries; and
    Bob, who must stay untouched."""
    it_admin = login(client, IT_ADMINS, "ita")
    sendgrid = make_account("sendgrid")
    marketing = [
        make_account("mailchimp_marketing", audience_id="aud001"),
        make_account("mailchimp_marketing", audience_id="aud002"),
    ]
    make_account("mailchimp_marketing", audience_id="aud003", is_active=False)
    make_rule("refund.processed", accounts=[sendgrid])
    make_rule("return.approved", accounts=[sendgrid])
    ada_events = [
        ingest("refund.processed", marketing_consent=True),
        ingest("return.approved", marketing_consent=True),
    ]
    ingest("refund.processed", customer_email=OTHER, customer_name="Bob Other", return_id="R-B")
    with django_capture_on_commit_callbacks(execute=True):
        audience.audience_sync_pending()

    message = Message.objects.filter(recipient=EMAIL).first()
    Message.objects.filter(pk=message.pk).update(error=f"550 mailbox {EMAIL} unavailable")
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    CampaignRecipient.objects.create(
        campaign=campaign,
        chunk_number=1,
        email=EMAIL,
        name=NAME,
        data={"customer": {"email": EMAIL, "name": NAME}, "returns_count": 2},
        error=f"rejected {EMAIL}",
    )
    CampaignRecipient.objects.create(campaign=campaign, chunk_number=1, email=OTHER, name="Bob")
    json_delivery = WebhookDelivery.objects.create(
        account=sendgrid, body=f'[{{"email": "{EMAIL}", "event": "bounce"}}]', status="processed"
    )
    WebhookDelivery.objects.create(  # form-encoded: the address is URL-encoded
        account=marketing[0],
        body="type=unsubscribe&data%5Bemail%5D=ada.customer%40example.com",
        status="processed",
    )
    other_delivery = WebhookDelivery.objects.create(
        account=sendgrid, body=f'[{{"email": "{OTHER}"}}]', status="processed"
    )
    DeliveryEvent.objects.create(
        fingerprint="a" * 64,
        delivery=json_delivery,
        account=sendgrid,
        message=message,
        type="bounced",
        provider_event="bounce",
        recipient=EMAIL,
        reason=f"550 5.1.1 <{EMAIL}>: user unknown",
        occurred_at=timezone.now(),
    )
    suppression = suppression_add(email=EMAIL, reason="hard_bounce", note=f"bounced: {EMAIL}")
    audit_record(actor=it_admin, obj=suppression, action="add", message="added by hand")
    return {
        "actor": it_admin,
        "events": ada_events,
        "message": message,
        "marketing": marketing,
        "other_delivery": other_delivery,
    }


def test_after_erasing_no_row_anywhere_names_the_customer(world, esp_sandbox):
    assert rows_naming(EMAIL), "the fixture must put the address somewhere"
    assert rows_naming(NAME)
    members = esp_sandbox.state["mailchimp"][KEY]["lists"]["aud001"]["members"]
    assert subscriber_hash(EMAIL) in members
    other_before = rows_naming(OTHER)

    report = customer_erase(email=EMAIL.upper(), actor=world["actor"])

    assert rows_naming(EMAIL, NAME, "ada.customer%40example.com") == []
    assert rows_naming(OTHER) == other_before  # Bob untouched
    # The rows stay (the truth of what was sent), under the placeholder.
    placeholder = report.placeholder
    assert placeholder.endswith("@erased.invalid")
    events = ReturnEvent.objects.filter(pk__in=[e.pk for e in world["events"]])
    assert {(e.customer_email, e.customer_name) for e in events} == {(placeholder, "")}
    assert all("customer" not in e.data and "items" in e.data for e in events)
    refund = events.get(type="refund.processed").data["refund"]
    assert "method" not in refund  # card digits are the person's
    assert refund["amount"]
    message = Message.objects.get(pk=world["message"].pk)
    assert (message.recipient, message.error) == (
        placeholder,
        f"550 mailbox {placeholder} unavailable",
    )
    assert DeliveryEvent.objects.get(fingerprint="a" * 64).recipient == placeholder
    assert not Customer.objects.filter(email=EMAIL).exists()
    assert not Suppression.objects.filter(email=EMAIL).exists()
    assert WebhookDelivery.objects.get(pk=world["other_delivery"].pk).body != ""
    # The audit trail says who erased, not whom.
    entry = LogEntry.objects.filter(change_message__startswith="erased a customer").get()
    assert (entry.user, entry.object_repr) == (world["actor"], placeholder)


def test_each_active_audience_gets_a_permanent_delete(
    world, esp_sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the deletions are queued on commit
        report = customer_erase(email=EMAIL, actor=world["actor"])

    for audience_id in ("aud001", "aud002"):
        assert len(esp_sandbox.records("mailchimp", delete_path(audience_id))) == 1, audience_id
    assert esp_sandbox.records("mailchimp", delete_path("aud003")) == []  # inactive account
    members = esp_sandbox.state["mailchimp"][KEY]["lists"]["aud001"]["members"]
    assert subscriber_hash(EMAIL) not in members
    assert subscriber_hash(OTHER) in members
    erasures = AudienceErasure.objects.filter(pk__in=report.audience_erasures)
    assert {(e.account_id, e.status, e.subscriber_hash) for e in erasures} == {
        (account.pk, AudienceErasureStatus.DONE, "") for account in world["marketing"]
    }


def test_a_provider_error_is_retried_by_the_sweep(
    world, esp_sandbox, django_capture_on_commit_callbacks
):
    esp_sandbox.faults.add(KEY, Fault(kind="503", times=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = customer_erase(email=EMAIL, actor=world["actor"])
    erasures = AudienceErasure.objects.filter(pk__in=report.audience_erasures)
    retrying = erasures.get(status=AudienceErasureStatus.PENDING)
    assert retrying.attempts == 1
    assert retrying.next_attempt_at > timezone.now()
    assert "503" in retrying.error

    with django_capture_on_commit_callbacks(execute=True):
        assert audience_erasures_sweep() == 0  # not due yet
    AudienceErasure.objects.filter(pk=retrying.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert audience_erasures_sweep() == 1

    assert set(erasures.values_list("status", flat=True)) == {AudienceErasureStatus.DONE}
    for audience_id in ("aud001", "aud002"):  # the refused call is not among what it accepted
        assert len(esp_sandbox.records("mailchimp", delete_path(audience_id))) == 1


def test_a_second_erase_is_harmless(world, esp_sandbox):
    customer_erase(email=EMAIL, actor=world["actor"])
    before, calls = table_snapshot(), len(esp_sandbox.records())

    with pytest.raises(ErasureError, match="no customer data is held"):
        customer_erase(email=EMAIL, actor=world["actor"])

    assert table_snapshot() == before
    assert len(esp_sandbox.records()) == calls


@pytest.mark.parametrize("email", ["nobody@example.com", "not an address", ""])
def test_an_unknown_email_is_a_clear_error_changing_nothing(world, esp_sandbox, email):
    before, calls = table_snapshot(), len(esp_sandbox.records())

    with pytest.raises(ErasureError):
        customer_erase(email=email, actor=world["actor"])

    assert table_snapshot() == before
    assert len(esp_sandbox.records()) == calls


def test_the_command_erases_and_names_the_actor(
    world, esp_sandbox, django_capture_on_commit_callbacks
):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_customer", EMAIL, "--by", "ita", stdout=out)
    assert "erased as erased-" in out.getvalue()
    assert rows_naming(EMAIL) == []
    assert len(esp_sandbox.records("mailchimp", delete_path("aud002"))) == 1
    entry = LogEntry.objects.get(change_message__startswith="erased a customer")
    assert entry.user == world["actor"]
    with pytest.raises(CommandError, match="no customer data is held"):
        call_command("erase_customer", EMAIL, "--by", "ita")
    with pytest.raises(CommandError, match="no active staff user"):
        call_command("erase_customer", OTHER, "--by", "nobody")
    assert Customer.objects.filter(email=OTHER).exists()


def test_the_admin_action_erases_the_selected_customer(
    world, client, esp_sandbox, django_capture_on_commit_callbacks
):
    customer = Customer.objects.get(email=EMAIL)
    url = reverse("admin:returns_mail_customer_changelist")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"action": "erase", "_selected_action": [customer.pk]}, follow=True
        )

    assert response.status_code == 200
    assert "Erased as erased-" in response.content.decode()
    assert rows_naming(EMAIL) == []
    assert len(esp_sandbox.records("mailchimp", delete_path("aud001"))) == 1


def test_managers_cannot_erase(world, client):
    client.logout()
    login(client, MANAGERS, "manager")
    customer = Customer.objects.get(email=EMAIL)
    url = reverse("admin:returns_mail_customer_changelist")
    assert (
        client.post(url, {"action": "erase", "_selected_action": [customer.pk]}).status_code == 403
    )
    assert Customer.objects.filter(email=EMAIL).exists()
