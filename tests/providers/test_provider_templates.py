"""Provider-stored templates read back with `fetch_template`: what drift detection compares.

For each provider: a push reads back as pushed, a pushed update replaces it, an edit made at the
provider through its own API (SDK over a real socket, as a person or script there would) shows,
and a deleted or unknown template is None."""

from __future__ import annotations

import datetime as dt

import mailchimp_marketing
import mailchimp_transactional
import pytest
import sendgrid

from providers.clients import client_for
from providers.clients.types import RemoteTemplate, TemplateContent
from providers.exceptions import ProviderError
from providers.sandbox.core import Fault
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

V1 = TemplateContent(
    name="Refund processed",
    slug="refund-processed",
    subject="Refund for {{rma}}",
    html="<p>Hello {{first_name}}, your refund is on its way.</p>",
    text="Hello {{first_name}}, your refund is on its way.",
    version_label="v1",
)
V2 = TemplateContent(
    name="Refund processed",
    slug="refund-processed",
    subject="Your refund for {{rma}}",
    html="<p>Hi {{first_name}}: {{amount}} refunded.</p>",
    text="Hi {{first_name}}: {{amount}} refunded.",
    version_label="v2",
)


def as_pushed(remote_id: str, content: TemplateContent) -> tuple:
    return (remote_id, content.subject, content.html, content.text, True)


def seen(remote: RemoteTemplate) -> tuple:
    return (remote.remote_id, remote.subject, remote.html, remote.text, remote.content_available)


# --- SendGrid ----------------------------------------------------------------------------------
@pytest.fixture
def sendgrid_api(esp_sandbox):
    def api():
        key = TEST_KEYS["sendgrid"]
        return sendgrid.SendGridAPIClient(api_key=key, host=esp_sandbox.base_url("sendgrid")).client

    return api


def test_sendgrid_fetch_returns_the_active_version_as_pushed_then_updated(make_account):
    client = client_for(make_account("sendgrid"))
    first = client.push_template(V1)

    fetched = client.fetch_template(first.remote_id)

    assert seen(fetched) == as_pushed(first.remote_id, V1)
    assert fetched.edited_at.tzinfo is dt.UTC
    second = client.push_template(V2, remote_id=first.remote_id)
    assert second.remote_id == first.remote_id
    assert seen(client.fetch_template(first.remote_id)) == as_pushed(first.remote_id, V2)


def test_sendgrid_remote_edits_show_in_fetch(make_account, sendgrid_api):
    client = client_for(make_account("sendgrid"))
    pushed = client.push_template(V1)
    versions = sendgrid_api().templates._(pushed.remote_id).versions

    versions._(pushed.remote_version_id).patch(
        request_body={"subject": "Edited at SendGrid", "html_content": "<p>Edited</p>"}
    )

    edited = client.fetch_template(pushed.remote_id)
    assert (edited.subject, edited.html, edited.text) == (
        "Edited at SendGrid",
        "<p>Edited</p>",
        V1.text,
    )
    # A new version activated there replaces the pushed one too.
    sendgrid_api().templates._(pushed.remote_id).versions.post(
        request_body={
            "name": "theirs",
            "subject": "Theirs",
            "html_content": "<p>T</p>",
            "active": 1,
        }
    )
    assert client.fetch_template(pushed.remote_id).subject == "Theirs"


def test_sendgrid_generated_plain_text_reads_back_empty(make_account, esp_sandbox):
    client = client_for(make_account("sendgrid"))
    content = TemplateContent("T", "t", "S", "<p>Only HTML {{x}}</p>", "")

    pushed = client.push_template(content)

    stored = esp_sandbox.state["sendgrid"]["templates"][pushed.remote_id]["versions"][0]
    assert stored["plain_content"] == "Only HTML {{x}}"  # SendGrid generated it
    assert seen(client.fetch_template(pushed.remote_id)) == as_pushed(pushed.remote_id, content)


def test_sendgrid_deleted_or_unknown_template_is_none(make_account, sendgrid_api):
    client = client_for(make_account("sendgrid"))
    pushed = client.push_template(V1)

    assert sendgrid_api().templates._(pushed.remote_id).delete().status_code == 204

    assert client.fetch_template(pushed.remote_id) is None
    assert client.fetch_template("d-0123456789abcdef0123456789abcdef") is None


def test_sendgrid_template_without_an_active_version_reads_back_empty(make_account, sendgrid_api):
    client = client_for(make_account("sendgrid"))
    pushed = client.push_template(V1)

    sendgrid_api().templates._(pushed.remote_id).versions._(pushed.remote_version_id).delete()

    assert seen(client.fetch_template(pushed.remote_id)) == (pushed.remote_id, "", "", "", True)


def test_sendgrid_fetch_errors_other_than_404_raise(make_account, esp_sandbox):
    client = client_for(make_account("sendgrid"))
    pushed = client.push_template(V1)
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", times=1))

    with pytest.raises(ProviderError) as caught:
        client.fetch_template(pushed.remote_id)

    assert (caught.value.status, caught.value.permanent) == (503, False)
    revoked = client_for(make_account("sendgrid", api_key="SG.revoked.key-0009"))
    with pytest.raises(ProviderError) as caught:
        revoked.fetch_template(pushed.remote_id)
    assert (caught.value.status, caught.value.permanent) == (401, True)


# --- Mailchimp Transactional (Mandrill) --------------------------------------------------------
@pytest.fixture
def mandrill_api(esp_sandbox):
    client = mailchimp_transactional.Client(TEST_KEYS["mailchimp_transactional"])
    client.api_client.host = f"{esp_sandbox.base_url('mandrill')}/api/1.3"
    return client


def test_mandrill_fetch_returns_the_published_copy_as_pushed_then_updated(make_account):
    client = client_for(make_account("mailchimp_transactional"))
    first = client.push_template(V1)

    fetched = client.fetch_template(first.remote_id)

    assert first.remote_id == "refund-processed"
    assert seen(fetched) == as_pushed(first.remote_id, V1)
    assert fetched.edited_at == dt.datetime.strptime(
        first.remote_version_id, "%Y-%m-%d %H:%M:%S"
    ).replace(tzinfo=dt.UTC)
    second = client.push_template(V2, remote_id=first.remote_id)
    updated = client.fetch_template(first.remote_id)
    assert seen(updated) == as_pushed(first.remote_id, V2)
    assert updated.edited_at > fetched.edited_at
    assert second.remote_version_id != first.remote_version_id


def test_mandrill_a_draft_edit_is_not_drift_until_published(make_account, mandrill_api):
    client = client_for(make_account("mailchimp_transactional"))
    pushed = client.push_template(V1)
    before = client.fetch_template(pushed.remote_id)

    mandrill_api.templates.update(
        {"name": pushed.remote_id, "code": "<p>Edited at Mandrill</p>", "publish": False}
    )

    assert client.fetch_template(pushed.remote_id) == before
    mandrill_api.templates.publish({"name": pushed.remote_id})
    after = client.fetch_template(pushed.remote_id)
    assert (after.subject, after.html, after.text) == (
        V1.subject,
        "<p>Edited at Mandrill</p>",
        V1.text,
    )
    assert after.edited_at > before.edited_at


def test_mandrill_an_update_published_at_once_shows(make_account, mandrill_api):
    client = client_for(make_account("mailchimp_transactional"))
    pushed = client.push_template(V1)

    mandrill_api.templates.update({"name": pushed.remote_id, "subject": "Theirs"})  # publish: true

    assert client.fetch_template(pushed.remote_id).subject == "Theirs"


def test_mandrill_deleted_or_unknown_template_is_none(make_account, mandrill_api):
    client = client_for(make_account("mailchimp_transactional"))
    pushed = client.push_template(V1)
    assert [t["slug"] for t in mandrill_api.templates.list({})] == [pushed.remote_id]

    deleted = mandrill_api.templates.delete({"name": pushed.remote_id})

    assert deleted["slug"] == pushed.remote_id
    # (An empty JSON list is falsy: the SDK hands back the raw response.)
    assert mandrill_api.templates.list({}).json() == []
    assert client.fetch_template(pushed.remote_id) is None
    assert client.fetch_template("never-pushed") is None


def test_mandrill_fetch_with_a_bad_key_raises(make_account):
    client = client_for(make_account("mailchimp_transactional", api_key="md-revoked-0009"))

    with pytest.raises(ProviderError) as caught:
        client.fetch_template("refund-processed")

    assert (caught.value.code, caught.value.permanent) == ("Invalid_Key", True)


# --- Mailchimp Marketing -----------------------------------------------------------------------
@pytest.fixture
def marketing_api(esp_sandbox):
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": TEST_KEYS["mailchimp_marketing"]})
    client.api_client.host = f"{esp_sandbox.base_url('mailchimp')}/3.0"
    return client


def test_marketing_get_template_is_metadata_without_html(make_account, marketing_api):
    pushed = client_for(make_account("mailchimp_marketing")).push_template(V1)

    answer = marketing_api.templates.get_template(pushed.remote_id)

    assert "html" not in answer
    assert (answer["id"], answer["name"], answer["type"], answer["active"]) == (
        int(pushed.remote_id),
        V1.name,
        "user",
        True,
    )
    assert answer["date_created"] == answer["date_edited"] == pushed.remote_version_id


def test_marketing_fetch_gives_only_the_edit_time_which_moves_on_every_edit(
    make_account, marketing_api
):
    client = client_for(make_account("mailchimp_marketing"))
    pushed = client.push_template(V1)

    fetched = client.fetch_template(pushed.remote_id)

    assert seen(fetched) == (pushed.remote_id, "", "", "", False)
    assert fetched.edited_at == dt.datetime.fromisoformat(pushed.remote_version_id)
    assert fetched.edited_at.tzinfo is not None
    # Edited at Mailchimp within the same second: still strictly newer.
    marketing_api.templates.update_template(pushed.remote_id, {"html": "<p>Theirs</p>"})
    edited = client.fetch_template(pushed.remote_id)
    assert edited.edited_at > fetched.edited_at
    # Our own next push moves it again, and its result says to what.
    again = client.push_template(V2, remote_id=pushed.remote_id)
    latest = client.fetch_template(pushed.remote_id)
    assert latest.edited_at == dt.datetime.fromisoformat(again.remote_version_id)
    assert latest.edited_at > edited.edited_at


def test_marketing_deleted_or_unknown_template_is_none(make_account, marketing_api, esp_sandbox):
    client = client_for(make_account("mailchimp_marketing"))
    pushed = client.push_template(V1)
    assert marketing_api.templates.list()["total_items"] == 1

    marketing_api.templates.delete_template(pushed.remote_id)

    assert ("DELETE", f"/3.0/templates/{pushed.remote_id}") in [
        (r["method"], r["path"]) for r in esp_sandbox.records("mailchimp")
    ]
    assert client.fetch_template(pushed.remote_id) is None
    assert client.fetch_template("999999") is None


def test_marketing_fetch_errors_other_than_404_raise(make_account, esp_sandbox):
    client = client_for(make_account("mailchimp_marketing"))
    pushed = client.push_template(V1)
    esp_sandbox.faults.add(TEST_KEYS["mailchimp_marketing"], Fault("500", times=1))

    with pytest.raises(ProviderError) as caught:
        client.fetch_template(pushed.remote_id)

    assert (caught.value.status, caught.value.permanent) == (500, False)
