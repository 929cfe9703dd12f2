"""Subject access (returns_mail/services/subject_access.py, with analytics' delivery events):
everything held about one customer, whatever case the returns system wrote the address in,
and nothing about anyone else; the admin action downloads it, the command writes it; each
export is audited; only IT admins and superusers may export."""

from __future__ import annotations

import json
import stat
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from analytics.models import DeliveryEvent, WebhookDelivery
from returns_mail.models import (
    Attempt,
    AudienceMember,
    CampaignRecipient,
    ConsentRecord,
    Customer,
    MemberStatus,
    Message,
    ReturnEvent,
    Suppression,
)
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.consent import consent_record
from returns_mail.services.subject_access import ExportError, customer_export, export_json
from returns_mail.services.suppression import suppression_add
from templates_lib.rendering import pick_locale
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

ADA = "ada.customer@example.com"
BOB = "bob.other@example.com"
SECTIONS = {
    "customer",
    "audience_memberships",
    "return_events",
    "messages",
    "attempts",
    "delivery_events",
    "replies",
    "consent_history",
    "suppressions",
    "campaign_recipients",
}


def delivery_event(message: Message, recipient: str, n: int) -> DeliveryEvent:
    delivery = WebhookDelivery.objects.create(
        account=message.account, body="", status="processed", body_sha256=f"{n:064d}"
    )
    return DeliveryEvent.objects.create(
        fingerprint=f"{n:064d}",
        delivery=delivery,
        account=message.account,
        message=message,
        type="delivered",
        provider_event="delivered",
        recipient=recipient,
        occurred_at=timezone.now(),
    )


@pytest.fixture
def world(client, make_account, make_rule, make_template, ingest):
    """Ada, written as "Ada.Customer@Example.COM" by one event and in lower case by another,
    in every table; Bob beside her."""
    it_admin = login(client, IT_ADMINS, "ita")
    sendgrid = make_account("sendgrid")
    marketing = make_account("mailchimp_marketing", audience_id="aud001")
    make_rule("refund.processed", accounts=[sendgrid])
    make_rule("return.approved", accounts=[sendgrid])
    ada_events = [
        ingest("refund.processed", customer_email="Ada.Customer@Example.COM", return_id="R-A1"),
        ingest("return.approved", customer_email=ADA, return_id="R-A2", customer_locale="de-DE"),
    ]
    bob_event = ingest(
        "refund.processed", customer_email=BOB, customer_name="Bob Other", return_id="R-B"
    )
    ada, bob = Customer.objects.get(email=ADA), Customer.objects.get(email=BOB)
    for customer in (ada, bob):
        AudienceMember.objects.update_or_create(  # the audience sync may have made it
            account=marketing, customer=customer, defaults={"status": MemberStatus.SUBSCRIBED}
        )
        consent_record(email=customer.email, granted=True, source="return_event", at=timezone.now())
    suppression_add(email=ADA, reason="complaint")
    suppression_add(email=BOB, reason="hard_bounce")
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    CampaignRecipient.objects.create(campaign=campaign, chunk_number=1, email=ADA.upper())
    CampaignRecipient.objects.create(campaign=campaign, chunk_number=1, email=BOB)
    ada_messages = list(Message.objects.filter(event__in=ada_events).order_by("pk"))
    bob_message = Message.objects.get(event=bob_event)
    delivery_event(ada_messages[0], ADA.upper(), 1)
    delivery_event(bob_message, BOB, 2)
    return {"actor": it_admin, "ada_events": ada_events, "ada_messages": ada_messages}


def ids(rows: list[dict]) -> set[int]:
    return {r["id"] for r in rows}


def test_the_export_holds_every_section_with_exactly_the_customers_rows(world):
    document = customer_export(email="ADA.customer@example.com", actor=world["actor"])
    sections = document["sections"]

    assert set(sections) == SECTIONS
    assert sections["customer"]["email"] == ADA
    assert ids(sections["return_events"]) == {e.pk for e in world["ada_events"]}
    assert ids(sections["messages"]) == {m.pk for m in world["ada_messages"]}
    assert ids(sections["attempts"]) == set(
        Attempt.objects.filter(message__in=world["ada_messages"]).values_list("pk", flat=True)
    )
    assert len(sections["attempts"]) == 2
    assert [e["recipient"] for e in sections["delivery_events"]] == [ADA.upper()]
    assert ids(sections["consent_history"]) == set(
        ConsentRecord.objects.filter(email=ADA).values_list("pk", flat=True)
    )
    assert [s["reason"] for s in sections["suppressions"]] == ["complaint"]
    assert [m["customer_id"] for m in sections["audience_memberships"]] == [
        Customer.objects.get(email=ADA).pk
    ]
    assert [r["email"] for r in sections["campaign_recipients"]] == [ADA.upper()]
    # Nothing of Bob's anywhere.
    text = export_json(document)
    assert "bob" not in text.lower()
    assert "R-B" not in text


def test_messages_carry_their_content_rendered_again_from_the_pinned_version(world):
    document = customer_export(email=ADA, actor=world["actor"])
    text = export_json(document)

    assert "rendered again from the pinned version" in text
    by_id = {m["id"]: m for m in document["sections"]["messages"]}
    for message in world["ada_messages"]:
        exported = by_id[message.pk]
        assert exported["template_version_id"] == message.template_version_id
        content = exported["content"]
        assert content["subject"]
        assert message.event.return_id in content["html"] + content["text"]
        version = message.template_version
        assert content["locale"] == pick_locale(
            version.contents, message.locale, version.default_locale
        )


def test_each_export_is_audited_naming_who_exported(world):
    customer_export(email=ADA, actor=world["actor"])

    entry = LogEntry.objects.get(change_message__startswith="exported everything held")
    assert entry.user == world["actor"]
    assert entry.object_repr == ADA
    assert entry.object_id == str(Customer.objects.get(email=ADA).pk)


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("nobody@example.com", "no customer data is held"),
        ("not an address", "not an email address"),
        ("", "not an email address"),
    ],
)
def test_bad_input_is_a_clear_error_and_records_nothing(world, email, error):
    with pytest.raises(ExportError, match=error):
        customer_export(email=email, actor=world["actor"])
    assert not LogEntry.objects.filter(change_message__startswith="exported").exists()


def test_an_address_held_only_as_a_suppression_is_exported(world):
    suppression_add(email="carol@example.com", reason="manual")
    sections = customer_export(email="Carol@Example.com", actor=world["actor"])["sections"]
    assert sections["customer"] is None
    assert len(sections["suppressions"]) == 1


# --- the command --------------------------------------------------------------------------


def test_the_command_writes_the_file(world, tmp_path):
    path = tmp_path / "ada.json"
    out = StringIO()

    call_command("export_customer", ADA.upper(), "--by", "ita", "--output", str(path), stdout=out)

    document = json.loads(path.read_text())
    assert set(document["sections"]) == SECTIONS
    assert ids(document["sections"]["messages"]) == {m.pk for m in world["ada_messages"]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"exported {ADA} to {path}" in out.getvalue()
    assert LogEntry.objects.filter(change_message__startswith="exported everything").count() == 1


def test_the_command_prints_to_standard_output_without_a_file(world):
    out = StringIO()
    call_command("export_customer", ADA, "--by", "ita", stdout=out)
    assert json.loads(out.getvalue())["email"] == ADA


def test_the_command_refuses_bad_input_and_writes_no_file(world, tmp_path):
    path = tmp_path / "out.json"
    with pytest.raises(CommandError, match="no customer data is held"):
        call_command("export_customer", "nobody@example.com", "--by", "ita", "--output", str(path))
    with pytest.raises(CommandError, match="not an email address"):
        call_command("export_customer", "nobody", "--by", "ita", "--output", str(path))
    assert not path.exists()
    path.write_text("keep me")
    with pytest.raises(CommandError, match="exists already"):
        call_command("export_customer", ADA, "--by", "ita", "--output", str(path))
    assert path.read_text() == "keep me"
    assert not LogEntry.objects.filter(change_message__startswith="exported").exists()


def test_the_command_is_for_it_admins_and_superusers_only(world, tmp_path):
    manager = get_user_model().objects.create_user("mgr", is_staff=True)
    manager.groups.add(*[g for g in manager.groups.model.objects.filter(name=MANAGERS)])
    with pytest.raises(CommandError, match="no active IT admin or superuser"):
        call_command("export_customer", ADA, "--by", "mgr")
    get_user_model().objects.create_superuser("root", "root@shop.example", "pw")
    out = StringIO()
    call_command("export_customer", ADA, "--by", "root", stdout=out)
    assert json.loads(out.getvalue())["exported_by"] == "root"


# --- the admin action ---------------------------------------------------------------------


def export_post(client, *customers):
    url = reverse("admin:returns_mail_customer_changelist")
    return client.post(url, {"action": "export", "_selected_action": [c.pk for c in customers]})


def test_the_admin_action_returns_a_json_download(world, client):
    response = export_post(client, Customer.objects.get(email=ADA))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="customer-')
    assert "no-store" in response["Cache-Control"]
    document = json.loads(response.content)
    assert document["email"] == ADA
    assert ids(document["sections"]["return_events"]) == {e.pk for e in world["ada_events"]}
    assert LogEntry.objects.get(change_message__startswith="exported").user == world["actor"]


def test_the_admin_action_exports_one_customer_at_a_time(world, client):
    response = export_post(client, *Customer.objects.all())
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Select exactly one customer to export."]
    assert not LogEntry.objects.filter(change_message__startswith="exported").exists()


def test_managers_cannot_export(world, client):
    client.logout()
    login(client, MANAGERS, "manager")
    assert export_post(client, Customer.objects.get(email=ADA)).status_code == 403
    assert not LogEntry.objects.filter(change_message__startswith="exported").exists()


def test_the_export_action_is_offered_to_it_admins_only(world, client):
    url = reverse("admin:returns_mail_customer_changelist")
    assert 'value="export"' in client.get(url).content.decode()


def test_suppressions_and_customers_are_untouched_by_an_export(world):
    before = (
        sorted(map(repr, Suppression.objects.values_list())),
        sorted(map(repr, ReturnEvent.objects.values_list())),
    )
    customer_export(email=ADA, actor=world["actor"])
    after = (
        sorted(map(repr, Suppression.objects.values_list())),
        sorted(map(repr, ReturnEvent.objects.values_list())),
    )
    assert after == before
