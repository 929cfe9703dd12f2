"""Every promotional email carries its recipient's own RFC 8058 headers (List-Unsubscribe with
the https link and a mailto, List-Unsubscribe-Post) and the links in its body, as each provider
received it at the sandbox; transactional mail carries none."""

from __future__ import annotations

import re

import pytest

from returns_mail.models import CampaignRecipient, CampaignStatus, MessageStatus
from returns_mail.services.campaigns import campaign_start
from returns_mail.services.unsubscribe_links import link_subject
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

BASE = "https://mail.shop.example"
MAILTO = "unsubscribe@shop.example"
HEADER = re.compile(
    rf"^<{re.escape(BASE)}/u/(?P<token>[^>]+)>, "
    rf"<mailto:{re.escape(MAILTO)}\?subject=unsubscribe%20(?P<mailto_token>[^>]+)>$"
)
OFFER = '<p>Hi {{customer.first_name}}, 10% off. <a href="{{unsubscribe_url}}">Stop these</a></p>'


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.UNSUBSCRIBE_MAILTO = MAILTO


@pytest.fixture
def promotional(make_template):
    return make_template(
        publish=True,
        purpose="promotional",
        slug="approved-offer",
        name="Approved: an offer",
        event_types=["return.approved"],
        subject="An offer for you",
        html=OFFER,
    )


def assert_one_click(headers: dict, email: str, ref: str) -> str:
    """The two headers, for `email` and the message `ref`; returns the https link."""
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = HEADER.match(headers["List-Unsubscribe"])
    assert match, headers["List-Unsubscribe"]
    assert match["token"] == match["mailto_token"]
    subject = link_subject(match["token"])
    assert (subject.email, subject.ref) == (email, ref)
    return f"{BASE}/u/{match['token']}"


def send_promotional(make_account, make_rule, ingest, promotional, kind, **rule_fields):
    make_rule("return.approved", accounts=[make_account(kind)], template=promotional, **rule_fields)
    message = ingest("return.approved", marketing_consent=True).messages.get()
    assert message.status == MessageStatus.SENT, message.error
    return message


def test_sendgrid_single_send(make_account, make_rule, ingest, promotional, esp_sandbox):
    message = send_promotional(make_account, make_rule, ingest, promotional, "sendgrid")

    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    link = assert_one_click(
        record["body"]["headers"], message.recipient, str(message.correlation_id)
    )
    [rendered] = record["rendered"]
    assert f'<a href="{link}">Stop these</a>' in rendered["html"]
    assert f'href="{link}/preferences"' in rendered["html"]  # the default layout's footer


def test_sendgrid_single_send_with_the_stored_template(
    make_account, make_rule, ingest, promotional, esp_sandbox, django_capture_on_commit_callbacks
):
    from templates_lib.services.templates import syncs_schedule

    account = make_account("sendgrid")
    with django_capture_on_commit_callbacks(execute=True):
        syncs_schedule(template=promotional, version=promotional.active_version)
    make_rule(
        "return.approved", accounts=[account], template=promotional, use_provider_template=True
    )
    message = ingest("return.approved", marketing_consent=True).messages.get()

    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert record["body"]["template_id"]
    data = record["body"]["personalizations"][0]["dynamic_template_data"]
    link = assert_one_click(
        record["body"]["headers"], message.recipient, str(message.correlation_id)
    )
    assert data["unsubscribe_url"] == link
    assert data["preferences_url"] == f"{link}/preferences"
    assert f'<a href="{link}">Stop these</a>' in record["rendered"][0]["html"]


def test_mandrill_single_send(make_account, make_rule, ingest, promotional, esp_sandbox):
    message = send_promotional(
        make_account, make_rule, ingest, promotional, "mailchimp_transactional"
    )

    [record] = esp_sandbox.records("mandrill", path="/api/1.3/messages/send.json")
    headers = record["body"]["message"]["headers"]
    link = assert_one_click(headers, message.recipient, str(message.correlation_id))
    assert f'<a href="{link}">Stop these</a>' in record["rendered"][0]["html"]


def test_smtp_single_send(make_account, make_rule, ingest, promotional, esp_sandbox):
    message = send_promotional(make_account, make_rule, ingest, promotional, "smtp")

    [record] = esp_sandbox.records("smtp")
    link = assert_one_click(record["headers"], message.recipient, str(message.correlation_id))
    assert f'<a href="{link}">Stop these</a>' in record["html"]


@pytest.mark.parametrize("kind", ["sendgrid", "mailchimp_transactional", "smtp"])
def test_transactional_mail_has_no_unsubscribe_headers_or_links(
    make_account, make_rule, ingest, esp_sandbox, kind
):
    make_rule("return.approved", accounts=[make_account(kind)])
    message = ingest("return.approved", marketing_consent=True).messages.get()
    assert message.status == MessageStatus.SENT

    [record] = [r for r in esp_sandbox._records if r["method"] in ("POST", "SMTP")]
    everything = repr(record)
    assert "List-Unsubscribe" not in everything
    assert "/u/" not in everything
    assert "Unsubscribe" not in everything  # the layout's footer link is not shown


# --- bulk: campaigns ------------------------------------------------------------------------------


def start(campaign, capture):
    with capture(execute=True):
        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    return {r.email: str(r.correlation_id) for r in CampaignRecipient.objects.all()}


def test_sendgrid_campaign_gives_each_personalization_its_own_headers(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(3)
    account = make_account("sendgrid")
    campaign = make_campaign(everyone(), offer_template(make_template), account)

    refs = start(campaign, django_capture_on_commit_callbacks)

    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert "headers" not in record["body"]  # none shared: each recipient has its own
    seen = set()
    for personalization, rendered in zip(
        record["body"]["personalizations"], record["rendered"], strict=True
    ):
        email = personalization["to"][0]["email"]
        link = assert_one_click(personalization["headers"], email, refs[email])
        assert personalization["dynamic_template_data"]["unsubscribe_url"] == link
        assert f'<a href="{link}">Unsubscribe</a>' in rendered["html"]
        seen.add(email)
    assert seen == set(emails)


def test_mandrill_campaign_sends_each_recipient_its_own_headers(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(3)
    account = make_account("mailchimp_transactional")
    campaign = make_campaign(everyone(), offer_template(make_template), account)

    refs = start(campaign, django_capture_on_commit_callbacks)

    calls = [r for r in esp_sandbox.records("mandrill") if "send" in r["path"]]
    # Mandrill's headers are per message: one call per recipient.
    assert sorted(len(c["body"]["message"]["to"]) for c in calls) == [1, 1, 1]
    seen = set()
    for call in calls:
        message = call["body"]["message"]
        [to] = message["to"]
        link = assert_one_click(message["headers"], to["email"], refs[to["email"]])
        [merge] = message["merge_vars"]
        values = {v["name"]: v["content"] for v in merge["vars"]}
        assert values["unsubscribe_url"] == link
        assert f'<a href="{link}">Unsubscribe</a>' in call["rendered"][0]["html"]
        seen.add(to["email"])
    assert seen == set(emails)
