"""What the sandbox's SendGrid makes of accepted mail: `rendered`, one email per personalization,
with handlebars.js itself for dynamic templates. Real SDKs, real sockets."""

from __future__ import annotations

import json

import pytest
import sendgrid
from handlebars import Handlebars

from providers.clients import client_for
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
    BatchEmail,
    BatchRecipient,
    OutgoingEmail,
    TemplateContent,
)
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

KEY = TEST_KEYS["sendgrid"]
MAIL_SEND = "/v3/mail/send"
SENDER = {"email": "returns@shop.example", "name": "Shop Returns"}


def sdk(esp_sandbox):
    """SendGrid's own SDK against the sandbox, as someone at SendGrid would use it."""
    return sendgrid.SendGridAPIClient(api_key=KEY, host=esp_sandbox.base_url("sendgrid")).client


def push(account, **fields) -> str:
    content = {"name": "Refund", "slug": "refund", "subject": "S", "html": "<p>H</p>", "text": ""}
    content.update(fields)
    return client_for(account).push_template(TemplateContent(**content)).remote_id


def send_batch(account, template_id: str, *data: dict) -> None:
    recipients = [
        BatchRecipient(Address(f"c{n}@example.com"), f"msg-{n}", data=item)
        for n, item in enumerate(data)
    ]
    client_for(account).send_batch(
        BatchEmail(recipients=recipients, remote_template_id=template_id)
    )


def mail_send(esp_sandbox, **body) -> dict:
    """POST mail/send through the SDK; the sandbox's record of it."""
    payload = {"from": SENDER, **body}
    response = sdk(esp_sandbox).mail.send.post(request_body=payload)
    assert response.status_code == 202
    return esp_sandbox.records("sendgrid", MAIL_SEND)[-1]


def hbs(source: str, data: dict) -> str:
    return Handlebars.compile(source)(data)


# --- dynamic templates -------------------------------------------------------------------------
def test_each_personalization_is_rendered_with_its_data_by_the_active_version(
    make_account, esp_sandbox
):
    account = make_account("sendgrid")
    subject = "Refund for {{rma}}"
    html = "<p>Hello {{first_name}}, {{amount}} is on its way.</p>"
    text = "Hello {{first_name}}, {{amount}} is on its way."
    template_id = push(account, subject=subject, html=html, text=text)
    first = {"first_name": "Ada", "rma": "RMA-1", "amount": "19.90 EUR"}
    second = {"first_name": "Bob", "rma": "RMA-2", "amount": "5.00 EUR"}

    send_batch(account, template_id, first, second)

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["rendered"] == [
        {
            "to": [f"c{n}@example.com"],
            "subject": hbs(subject, data),
            "html": hbs(html, data),
            "text": hbs(text, data),
            "custom_args": {CORRELATION_KEY: f"msg-{n}"},
        }
        for n, data in enumerate((first, second))
    ]
    assert record["rendered"][1]["html"] == "<p>Hello Bob, 5.00 EUR is on its way.</p>"
    assert record["rendered"][0]["subject"] == "Refund for RMA-1"
    assert record["render_notes"] == []


def test_values_are_html_escaped_unless_triple_stashed(make_account, esp_sandbox):
    account = make_account("sendgrid")
    html = '<p title="{{name}}">{{name}} / {{{name}}}</p>'
    template_id = push(account, html=html, subject="For {{name}}")
    data = {"name": "<Ada & 'Bob' \"C\">"}

    send_batch(account, template_id, data)

    [rendered] = esp_sandbox.records("sendgrid", MAIL_SEND)[0]["rendered"]
    assert rendered["html"] == hbs(html, data)
    assert rendered["html"] == (
        '<p title="&lt;Ada &amp; &#x27;Bob&#x27; &quot;C&quot;&gt;">'
        "&lt;Ada &amp; &#x27;Bob&#x27; &quot;C&quot;&gt; / <Ada & 'Bob' \"C\"></p>"
    )
    assert rendered["subject"] == "For &lt;Ada &amp; &#x27;Bob&#x27; &quot;C&quot;&gt;"


def test_each_and_if_blocks(make_account, esp_sandbox):
    account = make_account("sendgrid")
    html = (
        "<ul>{{#each items}}<li>{{@index}}:{{this.sku}} x{{this.qty}}</li>{{/each}}</ul>"
        '{{#if label_url}}<a href="{{label_url}}">Label</a>{{else}}No label{{/if}}'
        "{{#unless items}}Nothing returned{{/unless}}"
    )
    template_id = push(account, html=html)
    with_label = {
        "items": [{"sku": "SHOE-1", "qty": 1}, {"sku": "SOCK-2", "qty": 3}],
        "label_url": "https://shop.example/l?a=1&b=2",
    }
    without = {"items": [], "label_url": ""}

    send_batch(account, template_id, with_label, without)

    rendered = esp_sandbox.records("sendgrid", MAIL_SEND)[0]["rendered"]
    assert [r["html"] for r in rendered] == [hbs(html, with_label), hbs(html, without)]
    assert rendered[0]["html"] == (
        "<ul><li>0:SHOE-1 x1</li><li>1:SOCK-2 x3</li></ul>"
        '<a href="https://shop.example/l?a&#x3D;1&amp;b&#x3D;2">Label</a>'
    )
    assert rendered[1]["html"] == "<ul></ul>No labelNothing returned"


def test_a_personalization_subject_does_not_override_the_templates(make_account, esp_sandbox):
    template_id = push(make_account("sendgrid"), subject="Template {{n}}")
    personalizations = [
        {"to": [{"email": "a@example.com"}], "subject": "Mine", "dynamic_template_data": {"n": 1}},
        {"to": [{"email": "b@example.com"}], "dynamic_template_data": {"n": 2}},
    ]

    record = mail_send(esp_sandbox, personalizations=personalizations, template_id=template_id)

    assert [r["subject"] for r in record["rendered"]] == ["Template 1", "Template 2"]
    assert any("personalizations.0.subject is ignored" in n for n in record["render_notes"])


def test_generated_plain_text_is_rendered_and_empty_text_is_noted(make_account, esp_sandbox):
    account = make_account("sendgrid")
    generated = push(account, html="<p>Hi {{name}}</p>", text="")  # generate_plain_content
    image_only = push(account, html='<img src="https://shop.example/{{name}}.png">', text="")

    send_batch(account, generated, {"name": "<Ada>"})
    send_batch(account, image_only, {"name": "ada"})

    first, second = esp_sandbox.records("sendgrid", MAIL_SEND)
    # SendGrid generated "Hi {{name}}" at save time, then renders it (escaping included).
    assert first["rendered"][0]["text"] == "Hi &lt;Ada&gt;"
    assert first["render_notes"] == []
    assert second["rendered"][0]["text"] == ""
    assert second["rendered"][0]["html"] == '<img src="https://shop.example/ada.png">'
    assert any("no plain_content" in n for n in second["render_notes"])


def test_a_remote_edit_of_the_active_version_changes_what_is_sent(make_account, esp_sandbox):
    account = make_account("sendgrid")
    pushed = client_for(account).push_template(
        TemplateContent("Refund", "refund", "Refund", "<p>Old {{name}}</p>", "")
    )
    versions = sdk(esp_sandbox).templates._(pushed.remote_id).versions._(pushed.remote_version_id)

    edited = versions.patch(request_body={"html_content": "<p>New {{name}}</p>"})

    assert json.loads(edited.body)["plain_content"] == "New {{name}}"  # regenerated on save
    send_batch(account, pushed.remote_id, {"name": "Ada"})
    [rendered] = esp_sandbox.records("sendgrid", MAIL_SEND)[0]["rendered"]
    assert (rendered["html"], rendered["text"]) == ("<p>New Ada</p>", "New Ada")


def test_a_template_that_does_not_compile_is_accepted_and_noted(make_account, esp_sandbox):
    account = make_account("sendgrid")
    template_id = push(account, html="<p>{{#if name}}unclosed</p>", subject="Fine {{name}}")

    send_batch(account, template_id, {"name": "Ada"})

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["rendered"][0]["html"] == ""
    assert record["rendered"][0]["subject"] == "Fine Ada"
    assert any("html of template" in n and "Parse error" in n for n in record["render_notes"])


def test_only_the_first_render_limit_personalizations_are_rendered(
    make_account, esp_sandbox, monkeypatch
):
    monkeypatch.setattr(esp_sandbox.apps["sendgrid"], "render_limit", 2)
    account = make_account("sendgrid")
    template_id = push(account, html="<p>{{n}}</p>")

    send_batch(account, template_id, {"n": 0}, {"n": 1}, {"n": 2})

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert [r["html"] for r in record["rendered"]] == ["<p>0</p>", "<p>1</p>", None]
    assert record["rendered"][2]["to"] == ["c2@example.com"]
    assert any("render_limit" in n for n in record["render_notes"])


def test_a_template_without_an_active_version_renders_nothing(esp_sandbox):
    created = sdk(esp_sandbox).templates.post(request_body={"name": "t", "generation": "dynamic"})
    template_id = json.loads(created.body)["id"]

    record = mail_send(
        esp_sandbox,
        personalizations=[{"to": [{"email": "a@example.com"}]}],
        template_id=template_id,
    )

    assert record["rendered"][0] | {"to": None} == {
        "to": None,
        "subject": "",
        "html": "",
        "text": "",
        "custom_args": {},
    }
    assert record["render_notes"] == [
        f"template {template_id} has no active version: nothing to render"
    ]


# --- content without a template ----------------------------------------------------------------
def test_plain_content_is_recorded_as_given_in_the_same_shape(make_account, esp_sandbox):
    account = make_account("sendgrid")

    client_for(account).send(
        OutgoingEmail(
            to=Address("ada@example.com", "Ada"),
            subject="Your label {{not_rendered}}",
            html="<p>Label</p>",
            text="Label",
            correlation_id="msg-1",
        )
    )

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["rendered"] == [
        {
            "to": ["ada@example.com"],
            "subject": "Your label {{not_rendered}}",
            "html": "<p>Label</p>",
            "text": "Label",
            "custom_args": {CORRELATION_KEY: "msg-1"},
        }
    ]


def test_personalization_subjects_and_custom_args_win_over_the_requests(esp_sandbox):
    record = mail_send(
        esp_sandbox,
        personalizations=[
            {"to": [{"email": "a@example.com"}, {"email": "b@example.com"}], "subject": "Own"},
            {"to": [{"email": "c@example.com"}], "custom_args": {"k": "own", "p": "2"}},
        ],
        subject="Shared",
        custom_args={"k": "shared", "m": "1"},
        content=[{"type": "text/html", "value": "<p>x</p>"}],
    )

    assert record["rendered"] == [
        {
            "to": ["a@example.com", "b@example.com"],
            "subject": "Own",
            "html": "<p>x</p>",
            "text": "",
            "custom_args": {"k": "shared", "m": "1"},
        },
        {
            "to": ["c@example.com"],
            "subject": "Shared",
            "html": "<p>x</p>",
            "text": "",
            "custom_args": {"k": "own", "m": "1", "p": "2"},
        },
    ]
