"""Sending with the template stored at the provider, or with content rendered here (the
default), gives the same email. The sandbox renders stored templates with handlebars.js itself,
so this compares our engine and pipeline with an independent Handlebars implementation."""

from __future__ import annotations

import pytest

from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from templates_lib.catalogue import sample_context
from templates_lib.models import SyncStatus
from templates_lib.rendering import render_version, template_context

pytestmark = pytest.mark.django_db

HTML = """<h1>Hello {{#if customer.first_name}}{{customer.first_name}}{{else}}there{{/if}}</h1>
<p>We refunded <strong>{{refund.amount}} {{refund.currency}}</strong> to {{refund.method}}.</p>
<table>
{{#each items}}
  <tr><td>{{@index}}</td><td>{{name}}</td><td>{{#if reason}}{{reason}}{{else}}—{{/if}}</td><td>{{../return_id}}</td></tr>
{{/each}}
</table>
<p><a href="{{brand.website_url}}">{{brand.name}}</a></p>"""

TRICKY = {
    "customer": {"first_name": 'O\'Neil <&> "Q" `=`', "email": "o@example.com"},
    "items": [
        {"sku": "A", "name": "Boots & <Laces>", "quantity": 1, "reason": ""},
        {"sku": "B", "name": "Scarf", "quantity": 2, "reason": "Itchy, 100% wool"},
    ],
}


@pytest.mark.parametrize(
    ("kind", "sandbox_name"),
    [("sendgrid", "sendgrid"), ("mailchimp_transactional", "mandrill")],
)
@pytest.mark.parametrize("values", ["sample", "tricky"])
def test_provider_template_and_local_rendering_give_the_same_email(
    make_account, make_template, esp_sandbox, kind, sandbox_name, values
):
    account = make_account(kind)
    template = make_template(
        publish=True,
        subject="{{customer.first_name}}: your refund for {{return_id}}",
        html=HTML,
        text="Hi {{customer.first_name}}, refund {{refund.amount}} {{refund.currency}}.",
    )
    sync = template.syncs.get()
    assert sync.status == SyncStatus.CURRENT
    version = template.active_version
    context = sample_context("refund.processed")
    if values == "tricky":
        context.update(TRICKY)
    local = render_version(version, context)
    client = client_for(account)
    base = {"to": Address("ada@example.com"), "correlation_id": "parity-1"}

    client.send(OutgoingEmail(subject=local.subject, html=local.html, text=local.text, **base))
    client.send(
        OutgoingEmail(
            subject="",
            html="",
            text="",
            remote_template_id=sync.remote_id,
            template_data=template_context(version, context),
            **base,
        )
    )

    sends = [r for r in esp_sandbox.records(sandbox_name) if r.get("rendered")]
    here, there = sends[-2]["rendered"][0], sends[-1]["rendered"][0]
    assert there["subject"] == here["subject"] == local.subject
    assert there["html"] == here["html"] == local.html
    assert there["text"] == here["text"] == local.text
    assert "{{" not in local.html
