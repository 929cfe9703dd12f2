"""What the sandbox's Mailchimp Transactional (Mandrill) makes of accepted sends: `rendered`, one
email per accepted recipient, with handlebars.js itself. Real SDKs, real sockets."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import mailchimp_transactional
import pytest
from handlebars import Handlebars

from providers.clients import client_for
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
    BatchEmail,
    BatchRecipient,
    TemplateContent,
)
from providers.sandbox.webhooks import WebhookTarget
from tests.conftest import TEST_KEYS
from tests.providers.webhook_receiver import receiving

pytestmark = pytest.mark.django_db

KEY = TEST_KEYS["mailchimp_transactional"]
SEND = "/api/1.3/messages/send.json"
SEND_TEMPLATE = "/api/1.3/messages/send-template.json"


@pytest.fixture
def account(make_account):
    return make_account("mailchimp_transactional")


@pytest.fixture
def sdk(esp_sandbox):
    """Mandrill's own SDK against the sandbox, as someone at Mailchimp would use it."""
    client = mailchimp_transactional.Client(KEY)
    client.api_client.host = f"{esp_sandbox.base_url('mandrill')}/api/1.3"
    return client


def hbs(source: str, data: dict) -> str:
    return Handlebars.compile(source)(data)


def push(account, **fields) -> str:
    content = {"name": "Refund", "slug": "refund", "subject": "S", "html": "<p>H</p>", "text": "T"}
    content.update(fields)
    return client_for(account).push_template(TemplateContent(**content)).remote_id


def batch(*data: dict, **fields) -> BatchEmail:
    recipients = [
        BatchRecipient(Address(f"c{n}@example.com"), f"msg-{n}", data=item)
        for n, item in enumerate(data)
    ]
    return BatchEmail(recipients=recipients, **fields)


def last_record(esp_sandbox, path: str) -> dict:
    return esp_sandbox.records("mandrill", path)[-1]


ORDER_HTML = (
    "<p>Hi {{customer.first_name}},</p>"
    "<ul>{{#each items}}<li>{{sku}}: {{qty}} x {{../currency}} {{price}}</li>{{/each}}</ul>"
    "{{#if refund.approved}}<p>Refund: {{refund.amount}}</p>{{else}}<p>Pending</p>{{/if}}"
)


def test_send_template_renders_the_published_template_with_nested_merge_vars(account, esp_sandbox):
    slug = push(
        account,
        subject="Refund for {{rma}}",
        html=ORDER_HTML,
        text="{{#each items}}{{sku}} {{/each}}",
    )
    ada = {
        "customer": {"first_name": "Ada <3"},
        "currency": "EUR",
        "rma": "RMA-1",
        "items": [{"sku": "SHOE", "qty": 1, "price": 40}, {"sku": "SOCK", "qty": 2, "price": 3.5}],
        "refund": {"approved": True, "amount": "47.00"},
    }
    bob = {"customer": {"first_name": "Bob"}, "rma": "RMA-2", "items": [], "refund": {}}

    client_for(account).send_batch(batch(ada, bob, remote_template_id=slug))

    record = last_record(esp_sandbox, SEND_TEMPLATE)
    assert record["rendered"] == [
        {
            "to": [f"c{n}@example.com"],
            "subject": hbs("Refund for {{rma}}", data),
            "html": hbs(ORDER_HTML, data),
            "text": hbs("{{#each items}}{{sku}} {{/each}}", data),
            "metadata": {CORRELATION_KEY: f"msg-{n}"},
        }
        for n, data in enumerate((ada, bob))
    ]
    assert record["rendered"][0]["html"] == (
        "<p>Hi Ada &lt;3,</p><ul><li>SHOE: 1 x EUR 40</li><li>SOCK: 2 x EUR 3.5</li></ul>"
        "<p>Refund: 47.00</p>"
    )
    assert record["rendered"][1]["html"] == "<p>Hi Bob,</p><ul></ul><p>Pending</p>"
    assert record["render_notes"] == []


def test_recipient_merge_vars_overlay_the_global_ones_and_metadata_merges(
    sdk, account, esp_sandbox
):
    slug = push(account, subject="{{greeting}} {{name}}", html="<p>{{greeting}} {{name}}</p>")

    sdk.messages.send_template(
        {
            "template_name": slug,
            "template_content": [],
            "message": {
                "to": [{"email": "a@example.com"}, {"email": "B@example.com", "type": "cc"}],
                "merge_language": "handlebars",
                "global_merge_vars": [
                    {"name": "greeting", "content": "Hello"},
                    {"name": "name", "content": "customer"},
                ],
                "merge_vars": [
                    {"rcpt": "b@example.com", "vars": [{"name": "name", "content": "Bob"}]}
                ],
                "metadata": {"shop": "eu", "kind": "refund"},
                "recipient_metadata": [{"rcpt": "b@example.com", "values": {"kind": "vip"}}],
            },
        }
    )

    rendered = last_record(esp_sandbox, SEND_TEMPLATE)["rendered"]
    assert [(r["to"], r["subject"], r["html"], r["metadata"]) for r in rendered] == [
        (
            ["a@example.com"],
            "Hello customer",
            "<p>Hello customer</p>",
            {"shop": "eu", "kind": "refund"},
        ),
        (["B@example.com"], "Hello Bob", "<p>Hello Bob</p>", {"shop": "eu", "kind": "vip"}),
    ]


def test_a_message_subject_overrides_the_templates_and_html_is_ignored(sdk, account, esp_sandbox):
    slug = push(account, subject="Template {{n}}", html="<p>Template {{n}}</p>")

    sdk.messages.send_template(
        {
            "template_name": slug,
            "template_content": [],
            "message": {
                "to": [{"email": "a@example.com"}],
                "subject": "Message {{n}}",
                "html": "<p>Message</p>",
                "merge_language": "handlebars",
                "global_merge_vars": [{"name": "n", "content": 7}],
            },
        }
    )

    record = last_record(esp_sandbox, SEND_TEMPLATE)
    assert (record["rendered"][0]["subject"], record["rendered"][0]["html"]) == (
        "Message 7",
        "<p>Template 7</p>",
    )
    assert any("message.html is ignored" in n for n in record["render_notes"])


def test_send_template_uses_the_published_copy_until_a_draft_is_published(
    sdk, account, esp_sandbox
):
    slug = push(account, html="<p>v1 {{name}}</p>")
    message = {
        "to": [{"email": "a@example.com"}],
        "merge_language": "handlebars",
        "global_merge_vars": [{"name": "name", "content": "Ada"}],
    }
    body = {"template_name": slug, "template_content": [], "message": message}

    sdk.templates.update({"name": slug, "code": "<p>v2 {{name}}</p>", "publish": False})
    sdk.messages.send_template(dict(body))
    sdk.templates.publish({"name": slug})
    sdk.messages.send_template(dict(body))

    draft_time, published_time = esp_sandbox.records("mandrill", SEND_TEMPLATE)
    assert draft_time["rendered"][0]["html"] == "<p>v1 Ada</p>"
    assert published_time["rendered"][0]["html"] == "<p>v2 Ada</p>"


def test_messages_send_with_handlebars_renders_the_message_itself(account, esp_sandbox):
    html = "<p>{{#each lines}}{{this}};{{/each}} {{note}}</p>"
    data = {"lines": ["a", "b & c"], "note": "<b>"}

    client_for(account).send_batch(batch(data, subject="To {{note}}", html=html, text="{{note}}"))

    [rendered] = last_record(esp_sandbox, SEND)["rendered"]
    assert rendered["html"] == hbs(html, data) == "<p>a;b &amp; c; &lt;b&gt;</p>"
    assert (rendered["subject"], rendered["text"]) == ("To &lt;b&gt;", "&lt;b&gt;")


@pytest.mark.parametrize(
    "switch",
    [{}, {"merge_language": "mailchimp"}, {"merge_language": "handlebars", "merge": False}],
    ids=["default-mailchimp", "mailchimp", "merge-false"],
)
def test_without_handlebars_merging_content_is_recorded_as_given(sdk, esp_sandbox, switch):
    sdk.messages.send(
        {
            "message": {
                "from_email": "returns@shop.example",
                "to": [{"email": "a@example.com"}],
                "subject": "Hi {{name}} *|FNAME|*",
                "html": "<p>{{name}}</p>",
                "text": "{{name}}",
                "global_merge_vars": [{"name": "name", "content": "Ada"}],
                **switch,
            }
        }
    )

    [rendered] = last_record(esp_sandbox, SEND)["rendered"]
    assert (rendered["subject"], rendered["html"], rendered["text"]) == (
        "Hi {{name}} *|FNAME|*",
        "<p>{{name}}</p>",
        "{{name}}",
    )


def test_rejected_and_invalid_recipients_get_no_email(sdk, esp_sandbox):
    answer = sdk.messages.send(
        {
            "message": {
                "from_email": "returns@shop.example",
                "to": [
                    {"email": "ok@example.com"},
                    {"email": "gone+reject@example.com"},
                    {"email": "not-an-address"},
                ],
                "html": "<p>{{x}}</p>",
                "merge_language": "handlebars",
                "global_merge_vars": [{"name": "x", "content": 1}],
            }
        }
    )

    assert [a["status"] for a in answer] == ["sent", "rejected", "invalid"]
    assert [r["to"] for r in last_record(esp_sandbox, SEND)["rendered"]] == [["ok@example.com"]]


def test_a_broken_template_is_accepted_and_noted(account, esp_sandbox, monkeypatch):
    monkeypatch.setattr(esp_sandbox.apps["mandrill"], "render_limit", 1)

    client_for(account).send_batch(batch({}, {}, html="<p>{{#each}}</p>", subject="S"))

    record = last_record(esp_sandbox, SEND)
    assert [(r["subject"], r["html"]) for r in record["rendered"]] == [("S", ""), (None, None)]
    assert any("html does not render" in n for n in record["render_notes"])
    assert any("render_limit" in n for n in record["render_notes"])


def test_webhook_events_carry_the_subject_each_recipient_saw(account, esp_sandbox):
    slug = push(account, subject="Refund for {{rma}}")
    with receiving() as receiver:
        target = WebhookTarget(receiver.url("/hooks"), "whk-0001", delay=0)
        esp_sandbox.set_webhook_target("mandrill", KEY, target)

        client_for(account).send_batch(batch({"rma": "RMA-1"}, remote_template_id=slug))

        form = parse_qs(receiver.next_post().body.decode())
    [event] = json.loads(form["mandrill_events"][0])
    assert (event["event"], event["msg"]["subject"]) == ("send", "Refund for RMA-1")
