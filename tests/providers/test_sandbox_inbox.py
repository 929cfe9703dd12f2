"""The sandbox inbox: every delivered email of every provider, and a one-click POST made only
where the email offers it, as a mailbox provider makes it (no redirect followed)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from providers.sandbox.inbox import inbox_emails, one_click_post, one_click_url

ONE_CLICK = {
    "List-Unsubscribe": "<mailto:u@shop.example?subject=x>, <https://mail.shop.example/u/t>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def test_one_click_only_where_the_email_offers_it():
    assert one_click_url(ONE_CLICK) == "https://mail.shop.example/u/t"
    lower = {name.lower(): value for name, value in ONE_CLICK.items()}
    assert one_click_url(lower) == "https://mail.shop.example/u/t"
    assert one_click_url({"List-Unsubscribe": ONE_CLICK["List-Unsubscribe"]}) is None
    assert one_click_url({**ONE_CLICK, "List-Unsubscribe": "<mailto:u@shop.example>"}) is None
    assert one_click_url({**ONE_CLICK, "List-Unsubscribe": "<javascript:alert(1)>"}) is None
    assert one_click_url({}) is None


def test_every_providers_emails_are_listed_in_order():
    records = [
        {"provider": "sendgrid", "rendered": [
            {"to": ["a@x.example"], "subject": "A", "html": "<p>a</p>", "headers": ONE_CLICK},
            {"to": ["b@x.example"], "subject": "B", "html": "<p>b</p>"},
        ]},
        {"provider": "mailchimp", "method": "PUT", "body": {}},  # no email
        {"provider": "smtp", "rcpt_tos": ["c@x.example"], "subject": "C", "html": "<p>c</p>",
         "headers": {"Message-ID": "<1@x>"}},
        {"provider": "mandrill", "rendered": [{"to": ["d@x.example"], "subject": None}]},
    ]  # fmt: skip

    emails = inbox_emails(records)

    assert [(e["provider"], e["to"], e["subject"]) for e in emails] == [
        ("sendgrid", "a@x.example", "A"),
        ("sendgrid", "b@x.example", "B"),
        ("smtp", "c@x.example", "C"),
        ("mandrill", "d@x.example", ""),
    ]
    assert emails[0]["headers"] == ONE_CLICK
    assert emails[1]["headers"] == {}


@pytest.fixture
def site():
    """A site answering the one-click POST with a redirect, recording what it received."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, dict(self.headers), self.rfile.read(length)))
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            received.append((self.path, dict(self.headers), b""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_the_post_is_a_mailbox_providers_and_a_redirect_is_reported_not_followed(site):
    url, received = site

    status, _ = one_click_post(f"{url}/u/token")

    assert status == 302
    [(path, headers, body)] = received  # no GET to /elsewhere
    assert (path, body) == ("/u/token", b"List-Unsubscribe=One-Click")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Cookie" not in headers


def test_the_inbox_pages_answer_html_and_unknown_emails_are_404(esp_sandbox):
    page = requests.get(f"{esp_sandbox.url}/_sandbox/inbox", timeout=10)
    assert page.status_code == 200
    assert "No email yet." in page.text
    assert requests.get(f"{esp_sandbox.url}/_sandbox/inbox/1", timeout=10).status_code == 404
    missing = requests.post(f"{esp_sandbox.url}/_sandbox/inbox/1/one-click", timeout=10)
    assert missing.status_code == 404
