"""Provider calls never follow a redirect (providers/clients/no_redirects.py): the real SDKs
call a loopback server that answers 301/302/307/308 pointing at a second loopback server; the
call fails permanently naming the redirect, and the second server never hears from us, so no
API key (SendGrid's header, Mandrill's body, Mailchimp's basic auth) leaves the account's host."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers.clients import client_for
from providers.clients.types import CORRELATION_KEY, Address, OutgoingEmail
from providers.exceptions import ProviderError
from tests.conftest import TEST_KEYS


class _Server:
    """A loopback HTTP server answering every request with `answer(handler)`."""

    def __init__(self, answer):
        self.requests: list[tuple[str, str, dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                answer(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere():
    """Where a redirect would take the call: it must never be reached."""

    def ok(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    server = _Server(ok)
    yield server
    server.close()


@pytest.fixture(params=[301, 302, 307, 308])
def redirector(request, elsewhere):
    status = request.param

    def redirect(handler):
        handler.send_response(status)
        handler.send_header("Location", f"{elsewhere.url}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = _Server(redirect)
    server.status = status
    yield server
    server.close()


EMAIL = OutgoingEmail(
    to=Address("ada@example.com"), subject="s", html="<p>h</p>", text="t", correlation_id="c-1"
)
PREFIX = {"sendgrid": "sendgrid", "mailchimp_transactional": "mandrill"}
CALLS = {
    "sendgrid send (POST)": ("sendgrid", lambda client: client.send(EMAIL)),
    "sendgrid activity (GET)": (
        "sendgrid",
        lambda client: client.accepted_recipients(CORRELATION_KEY, "c-1", at_most=1),
    ),
    "mandrill send (POST, key in the body)": (
        "mailchimp_transactional",
        lambda client: client.send(EMAIL),
    ),
}


@pytest.mark.parametrize("call", CALLS)
def test_a_redirect_is_refused_and_the_key_goes_nowhere(call, redirector, elsewhere, make_account):
    kind, run = CALLS[call]
    account = make_account(kind, api_base_url=f"{redirector.url}/{PREFIX[kind]}")

    with pytest.raises(ProviderError) as caught:
        run(client_for(account))

    error = caught.value
    assert error.permanent is True
    assert error.ambiguous is False
    assert f"HTTP {redirector.status}, a redirect to {elsewhere.url}" in str(error)
    assert TEST_KEYS[kind] not in str(error)
    assert len(redirector.requests) == 1
    assert elsewhere.requests == []


def test_mailchimp_marketing_credential_check_reports_the_refused_redirect(
    redirector, elsewhere, make_account
):
    account = make_account("mailchimp_marketing", api_base_url=f"{redirector.url}/mailchimp")

    check = client_for(account).check_credentials()

    assert check.ok is False
    assert f"a redirect to {elsewhere.url}" in check.detail
    assert len(redirector.requests) == 1
    assert elsewhere.requests == []
