"""The Mailchimp Marketing client: the real SDK over a real socket to the sandbox."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import responses

from providers.clients import client_for
from providers.clients.mailchimp_marketing import (
    AudienceMember,
    MailchimpMarketingClient,
    MemberError,
    MergeField,
)
from providers.clients.types import Address, BatchEmail, OutgoingEmail, TemplateContent
from providers.exceptions import ProviderConfigurationError, ProviderError
from providers.sandbox.core import Fault
from providers.sandbox.webhooks import WebhookTarget
from tests.conftest import TEST_KEYS
from tests.providers.webhook_receiver import receiving


@pytest.fixture(autouse=True)
def _mocked_host_allowed(settings):
    """`responses` answers for mc.test: allow the host as an operator would (providers/hosts.py)."""
    settings.PROVIDER_EXTRA_HOSTS = ["mc.test"]


KEY = TEST_KEYS["mailchimp_marketing"]
pytestmark = pytest.mark.django_db


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def account(make_account):
    return make_account("mailchimp_marketing", reply_to="help@shop.example")


@pytest.fixture
def client(account) -> MailchimpMarketingClient:
    return client_for(account)


def writes(esp_sandbox) -> list[tuple[str, str, object]]:
    return [(r["method"], r["path"], r["body"]) for r in esp_sandbox.records("mailchimp")]


def error_of(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    return caught.value


def test_client_for_picks_the_marketing_client(client):
    assert isinstance(client, MailchimpMarketingClient)


def test_marketing_cannot_send_transactional_email(client):
    one = OutgoingEmail(Address("a@x.example"), "s", "<p>h</p>", "t", "c-1")

    with pytest.raises(ProviderConfigurationError, match="Mailchimp Transactional"):
        client.send(one)
    with pytest.raises(ProviderConfigurationError):
        client.send_batch(BatchEmail(recipients=[]))


def test_check_credentials_pings(client):
    check = client.check_credentials()

    assert (check.ok, check.detail) == (True, "Everything's Chimpy!")


def test_check_credentials_with_a_revoked_key_fails_without_showing_it(make_account):
    account = make_account("mailchimp_marketing", api_key="abc123revoked-us6")

    check = client_for(account).check_credentials()

    assert check.ok is False
    assert "API Key Invalid" in check.detail
    assert "abc123revoked-us6" not in check.detail


def test_push_template_creates_then_updates_by_integer_id(client, esp_sandbox):
    first = client.push_template(TemplateContent("Label", "label", "S", "<p>1</p>", "1"))

    assert first.remote_id.isdigit()
    second = client.push_template(
        TemplateContent("Label v2", "label", "S", "<p>2</p>", "2"), remote_id=first.remote_id
    )

    assert second.remote_id == first.remote_id
    assert writes(esp_sandbox) == [
        ("POST", "/3.0/templates", {"name": "Label", "html": "<p>1</p>"}),
        ("PATCH", f"/3.0/templates/{first.remote_id}", {"name": "Label v2", "html": "<p>2</p>"}),
    ]


def test_member_upsert_puts_the_member_then_its_tags(client, esp_sandbox):
    member = client.member_upsert(
        email="Jo@Shop.example", merge_fields={"FNAME": "Jo"}, tags=("returner", "vip")
    )

    assert (member.subscriber_hash, member.status) == (md5("jo@shop.example"), "subscribed")
    path = f"/3.0/lists/aud001/members/{md5('jo@shop.example')}"
    assert writes(esp_sandbox) == [
        (
            "PUT",
            path,
            {
                "email_address": "Jo@Shop.example",
                "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Jo"},
            },
        ),
        (
            "POST",
            f"{path}/tags",
            {
                "tags": [
                    {"name": "returner", "status": "active"},
                    {"name": "vip", "status": "active"},
                ],
                "is_syncing": False,
            },
        ),
    ]


def test_member_upsert_without_tags_is_one_call_and_can_set_a_status(client, esp_sandbox):
    client.member_upsert(email="a@x.example")

    member = client.member_upsert(email="a@x.example", status="unsubscribed")

    assert member.status == "unsubscribed"
    assert [body for _, _, body in writes(esp_sandbox)] == [
        {"email_address": "a@x.example", "status_if_new": "subscribed"},
        {"email_address": "a@x.example", "status_if_new": "subscribed", "status": "unsubscribed"},
    ]


def test_members_batch_sends_1200_members_in_three_calls(client, esp_sandbox):
    members = [
        AudienceMember(f"m{i}@x.example", {"FNAME": f"M{i}"}, tags=("bulk",)) for i in range(1200)
    ]

    result = client.members_batch(members=members)

    calls = writes(esp_sandbox)
    assert [(method, path) for method, path, _ in calls] == [("POST", "/3.0/lists/aud001")] * 3
    assert [len(body["members"]) for _, _, body in calls] == [500, 500, 200]
    assert calls[0][2]["update_existing"] is True
    assert calls[0][2]["members"][0] == {
        "email_address": "m0@x.example",
        "status": "subscribed",
        "merge_fields": {"FNAME": "M0"},
        "tags": ["bulk"],
    }
    assert calls[2][2]["members"][-1]["email_address"] == "m1199@x.example"
    assert (result.created, result.updated, result.errors) == (1200, 0, ())


def test_members_batch_combines_updates_and_errors(client):
    client.members_batch(members=[AudienceMember("old@x.example")])

    result = client.members_batch(
        members=[
            AudienceMember("old@x.example"),
            AudienceMember("fake"),
            AudienceMember("n@x.example"),
        ],
        update_existing=True,
    )

    assert (result.created, result.updated) == (1, 1)
    assert result.errors == (
        MemberError(
            "fake",
            "ERROR_GENERIC",
            "fake looks fake or invalid, please enter a real email address.",
        ),
    )


def test_merge_fields_ensure_creates_only_the_missing_ones(client, esp_sandbox):
    fields = [MergeField("FNAME", "First Name"), MergeField("RMA", "Return number", "number")]

    ids = client.merge_fields_ensure(fields=fields)

    assert writes(esp_sandbox) == [
        (
            "POST",
            "/3.0/lists/aud001/merge-fields",
            {"tag": "RMA", "name": "Return number", "type": "number"},
        ),
    ]
    assert set(ids) == {"FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY", "RMA"}
    assert client.merge_fields_ensure(fields=fields) == ids
    assert len(writes(esp_sandbox)) == 1  # nothing new the second time


def test_static_segment_members_go_500_at_a_time_each_way(client, esp_sandbox):
    emails = [f"m{i}@x.example" for i in range(1200)]
    client.members_batch(members=[AudienceMember(e) for e in emails])
    segment_id = client.segment_create(name="Returners Q3")
    before = len(esp_sandbox.records("mailchimp"))

    change = client.segment_members_update(
        segment_id=segment_id, add=emails, remove=[*emails[:600], "stranger@x.example"]
    )

    calls = writes(esp_sandbox)[before:]
    assert {path for _, path, _ in calls} == {f"/3.0/lists/aud001/segments/{segment_id}"}
    assert [(len(b["members_to_add"]), len(b["members_to_remove"])) for _, _, b in calls] == [
        (500, 500),
        (500, 101),
        (200, 0),
    ]
    assert (change.added, change.removed, change.not_on_list) == (1200, 600, ())
    segment = esp_sandbox.state["mailchimp"][KEY]["lists"]["aud001"]["segments"][str(segment_id)]
    assert len(segment["members"]) == 600


def test_segment_create_posts_an_empty_static_segment(client, esp_sandbox):
    segment_id = client.segment_create(name="Late returners")

    change = client.segment_members_update(segment_id=segment_id, add=["nobody@x.example"])

    assert writes(esp_sandbox)[0] == (
        "POST",
        "/3.0/lists/aud001/segments",
        {"name": "Late returners", "static_segment": []},
    )
    assert change.not_on_list == ("nobody@x.example",)


def test_a_campaign_is_created_filled_and_sent(client, esp_sandbox):
    client.member_upsert(email="a@x.example")
    segment_id = client.segment_create(name="s")
    client.segment_members_update(segment_id=segment_id, add=["a@x.example"])
    before = len(esp_sandbox.records("mailchimp"))

    campaign_id = client.campaign_create(subject="Your refund", segment_id=segment_id)
    client.campaign_set_content(campaign_id=campaign_id, html="<p>Refunded</p>", text="Refunded")
    client.campaign_send(campaign_id=campaign_id)

    assert writes(esp_sandbox)[before:] == [
        (
            "POST",
            "/3.0/campaigns",
            {
                "type": "regular",
                "recipients": {
                    "list_id": "aud001",
                    "segment_opts": {"saved_segment_id": segment_id},
                },
                "settings": {
                    "subject_line": "Your refund",
                    "title": "Your refund",
                    "from_name": "Shop Returns",
                    "reply_to": "help@shop.example",
                },
            },
        ),
        (
            "PUT",
            f"/3.0/campaigns/{campaign_id}/content",
            {"html": "<p>Refunded</p>", "plain_text": "Refunded"},
        ),
        ("POST", f"/3.0/campaigns/{campaign_id}/actions/send", None),
    ]
    campaign = esp_sandbox.state["mailchimp"][KEY]["campaigns"][campaign_id]
    assert (campaign["status"], campaign["emails_sent"]) == ("sent", 1)


def test_a_campaign_can_be_scheduled(client, esp_sandbox):
    client.member_upsert(email="a@x.example")
    campaign_id = client.campaign_create(subject="Reminder")
    client.campaign_set_content(campaign_id=campaign_id, html="<p>R</p>", text="R")
    when = (datetime.now(UTC) + timedelta(days=2)).replace(minute=45, second=0, microsecond=0)

    client.campaign_schedule(campaign_id=campaign_id, send_at=when)

    assert writes(esp_sandbox)[-1] == (
        "POST",
        f"/3.0/campaigns/{campaign_id}/actions/schedule",
        {"schedule_time": when.isoformat()},
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        client.campaign_schedule(campaign_id=campaign_id, send_at=when.replace(tzinfo=None))


def test_an_unready_campaign_is_refused_permanently_with_the_reasons(client):
    client.member_upsert(email="a@x.example")
    campaign_id = client.campaign_create(subject="No content yet")

    error = error_of(lambda: client.campaign_send(campaign_id=campaign_id))

    assert (error.status, error.code, error.permanent) == (400, "Bad Request", True)
    assert error.message == (
        "Bad Request: Your Campaign is not ready to send. (content: The campaign has no content.)"
    )


def test_an_audience_id_containing_server_reaches_the_right_path(make_account, esp_sandbox):
    account = make_account("mailchimp_marketing", audience_id="observers")

    client_for(account).member_upsert(email="a@x.example")

    assert writes(esp_sandbox)[0][1] == f"/3.0/lists/observers/members/{md5('a@x.example')}"


@responses.activate
def test_without_a_base_url_the_data_centre_comes_from_the_key(make_account):
    account = make_account("mailchimp_marketing", api_base_url="")
    responses.get("https://us6.api.mailchimp.com/3.0/ping", json={"health_status": "ok"})

    assert client_for(account).check_credentials().ok is True
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_a_key_without_a_data_centre_needs_a_base_url(make_account):
    account = make_account("mailchimp_marketing", api_base_url="", api_key="0123abcd")

    with pytest.raises(ProviderConfigurationError, match="data centre"):
        client_for(account).member_upsert(email="a@x.example")


def test_no_audience_is_a_configuration_error(make_account):
    account = make_account("mailchimp_marketing", audience_id="")

    with pytest.raises(ProviderConfigurationError, match="audience"):
        client_for(account).member_upsert(email="a@x.example")


def test_never_more_than_10_calls_in_flight_per_key(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", delay=0.5))

    with ThreadPoolExecutor(max_workers=11) as pool:
        members = list(pool.map(lambda i: client.member_upsert(email=f"c{i}@x.example"), range(11)))

    assert {m.status for m in members} == {"subscribed"}
    assert len(esp_sandbox.records("mailchimp")) == 11


@pytest.mark.parametrize(
    ("kind", "code"),
    [("500", "Internal Server Error"), ("503", "Service Unavailable")],
)
def test_server_errors_are_transient(client, esp_sandbox, kind, code):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1))

    error = error_of(lambda: client.member_upsert(email="a@x.example"))

    assert (error.status, error.code, error.transient, error.ambiguous) == (
        int(kind),
        code,
        True,
        False,
    )


def test_429_is_transient_with_the_retry_after(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("429", times=1, retry_after=7))

    error = error_of(lambda: client.member_upsert(email="a@x.example"))

    assert (error.status, error.code, error.transient, error.retry_after) == (
        429,
        "Too Many Requests",
        True,
        7.0,
    )


def test_an_unknown_audience_is_permanent(make_account):
    account = make_account("mailchimp_marketing", audience_id="missing-aud")

    error = error_of(lambda: client_for(account).member_upsert(email="a@x.example"))

    assert (error.status, error.code, error.permanent) == (404, "Resource Not Found", True)


def test_a_revoked_key_is_permanent(make_account):
    account = make_account("mailchimp_marketing", api_key="abc123revoked-us6")

    error = error_of(lambda: client_for(account).member_upsert(email="a@x.example"))

    assert (error.status, error.code, error.permanent) == (401, "API Key Invalid", True)
    assert "abc123revoked-us6" not in str(error) + repr(error)


def test_validation_errors_name_the_field(client):
    error = error_of(lambda: client.member_upsert(email="a@x.example", status_if_new="happy"))

    assert error.permanent
    assert "status_if_new: Value must be one of" in error.message


def test_a_slow_answer_beyond_the_timeout_is_transient_and_ambiguous(account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", times=1, delay=1.5))

    error = error_of(lambda: client_for(account, timeout=0.5).member_upsert(email="a@x.example"))

    assert (error.status, error.transient, error.ambiguous) == (None, True, True)


def test_a_dropped_connection_is_transient_and_ambiguous(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("drop", times=1))

    error = error_of(lambda: client.member_upsert(email="a@x.example"))

    assert (error.status, error.transient, error.ambiguous) == (None, True, True)


@responses.activate
@pytest.mark.parametrize(
    ("status", "permanent"), [(404, True), (403, False), (429, False), (503, False)]
)
def test_an_empty_error_body_raises_instead_of_passing_as_success(make_account, status, permanent):
    account = make_account("mailchimp_marketing", api_base_url="https://mc.test")
    responses.put(
        f"https://mc.test/3.0/lists/aud001/members/{md5('a@x.example')}",
        body="",
        status=status,
        headers={"Retry-After": "3"},
    )

    error = error_of(lambda: client_for(account).member_upsert(email="a@x.example"))

    assert (error.status, error.permanent) == (status, permanent)
    assert error.retry_after == (None if permanent else 3.0)


@responses.activate
def test_a_key_echoed_by_the_provider_is_scrubbed(make_account):
    account = make_account("mailchimp_marketing", api_base_url="https://mc.test")
    responses.get(
        "https://mc.test/3.0/ping",
        json={"title": "API Key Invalid", "status": 401, "detail": f"Key {KEY} is disabled"},
        status=401,
        content_type="application/problem+json; charset=utf-8",
    )

    check = client_for(account).check_credentials()

    assert check.ok is False
    assert check.detail.endswith("API Key Invalid: Key [redacted] is disabled (permanent)")


def test_an_unsubscribe_comes_back_as_a_form_encoded_audience_webhook(client, esp_sandbox):
    with receiving() as receiver:
        url = receiver.url("/webhooks/mailchimp?secret=s3cret")
        esp_sandbox.set_webhook_target("mailchimp", KEY, WebhookTarget(url, delay=0))

        client.member_upsert(email="jo+unsubscribe@x.example", merge_fields={"FNAME": "Jo"})
        post = receiver.next_post()

    assert post.path == "/webhooks/mailchimp?secret=s3cret"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "X-Mandrill-Signature" not in post.headers
    form = {k: v[0] for k, v in parse_qs(post.body.decode(), keep_blank_values=True).items()}
    assert datetime.strptime(form.pop("fired_at"), "%Y-%m-%d %H:%M:%S")
    assert form == {
        "type": "unsubscribe",
        "data[action]": "unsub",
        "data[reason]": "manual",
        "data[id]": md5("jo+unsubscribe@x.example"),
        "data[email]": "jo+unsubscribe@x.example",
        "data[email_type]": "html",
        "data[list_id]": "aud001",
        "data[web_id]": form["data[web_id]"],
        "data[merges][EMAIL]": "jo+unsubscribe@x.example",
        "data[merges][FNAME]": "Jo",
        "data[merges][LNAME]": "",
        "data[merges][PHONE]": "",
        "data[merges][BIRTHDAY]": "",
        "data[merges][ADDRESS]": "",
        "data[ip_opt]": "127.0.0.1",
        "data[campaign_id]": "",
    }
    member = esp_sandbox.state["mailchimp"][KEY]["lists"]["aud001"]["members"][form["data[id]"]]
    assert member["status"] == "unsubscribed"


def test_a_cleaned_address_comes_back_as_a_cleaned_event(client, esp_sandbox):
    with receiving() as receiver:
        esp_sandbox.set_webhook_target("mailchimp", KEY, WebhookTarget(receiver.url(), delay=0))

        client.members_batch(
            members=[AudienceMember("x+cleaned@x.example"), AudienceMember("ok@x.example")]
        )
        post = receiver.next_post()

    form = {k: v[0] for k, v in parse_qs(post.body.decode(), keep_blank_values=True).items()}
    assert (form["type"], form["data[email]"], form["data[reason]"]) == (
        "cleaned",
        "x+cleaned@x.example",
        "hard",
    )
