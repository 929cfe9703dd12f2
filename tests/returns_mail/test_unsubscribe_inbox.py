"""The demo's path: a customer reads a promotional email in the ESP sandbox's inbox and presses
its one-click unsubscribe button; the sandbox POSTs `List-Unsubscribe=One-Click` to the live
site, as Gmail would, and the customer is unsubscribed."""

from __future__ import annotations

import re

import pytest
import requests

from returns_mail.models import ConsentRecord, MessageStatus, Suppression

OFFER = '<p>10% off. <a href="{{unsubscribe_url}}">Stop these</a></p>'


@pytest.mark.django_db(transaction=True)
def test_the_inbox_button_unsubscribes_through_the_live_site(
    live_server, settings, make_account, make_rule, make_template, ingest, esp_sandbox
):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example"
    offer = make_template(
        publish=True,
        purpose="promotional",
        slug="approved-offer",
        name="Approved: an offer",
        event_types=["return.approved"],
        subject="An offer for you",
        html=OFFER,
    )
    make_rule("return.approved", accounts=[make_account("smtp")], template=offer)
    make_rule("return.approved", accounts=[make_account("sendgrid")])  # transactional
    event = ingest("return.approved", marketing_consent=True)
    promotional = event.messages.get(rule__template=offer)
    assert promotional.status == MessageStatus.SENT
    inbox = f"{esp_sandbox.url}/_sandbox/inbox"

    listing = requests.get(inbox, timeout=10)
    assert listing.status_code == 200
    assert listing.headers["Content-Type"].startswith("text/html")
    rows = dict(
        re.findall(r'<tr><td><a href="/_sandbox/inbox/(\d+)">\d+</a></td>(.*?)</tr>', listing.text)
    )
    assert len(rows) == 2
    [offer_row] = [n for n, row in rows.items() if "An offer for you" in row]
    assert "one-click" in rows[offer_row]

    page = requests.get(f"{inbox}/{offer_row}", timeout=10)
    assert page.status_code == 200
    assert "List-Unsubscribe-Post" in page.text
    assert f"{live_server.url}/u/" in page.text
    assert "One-click unsubscribe (as Gmail does)" in page.text
    assert Suppression.objects.count() == 0  # reading the email changes nothing

    clicked = requests.post(f"{inbox}/{offer_row}/one-click", timeout=30)

    assert clicked.status_code == 200
    assert "HTTP 200" in clicked.text
    assert list(Suppression.objects.values_list("email", "scope", "reason")) == [
        (promotional.recipient, "promotional", "unsubscribe")
    ]
    assert list(
        ConsentRecord.objects.filter(source="unsubscribe_link").values_list("granted", "detail")
    ) == [(False, f"message {promotional.correlation_id}")]

    # The transactional email offers no one-click: its page says so and its POST is refused.
    [other] = [n for n in rows if n != offer_row]
    assert "offers no one-click unsubscribe" in requests.get(f"{inbox}/{other}", timeout=10).text
    assert requests.post(f"{inbox}/{other}/one-click", timeout=10).status_code == 400
