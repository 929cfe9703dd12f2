"""The SMTP client through Django's backend against a real SMTP server on loopback."""

from __future__ import annotations

import json
import socket
import ssl
import threading

import pytest

from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError, ProviderError
from providers.models import ProviderAccount
from providers.sandbox.smtp import SmtpSandbox
from tests.conftest import TEST_SMTP_PASSWORD
from tests.providers.tls import make_server_certificate

pytestmark = pytest.mark.django_db


def email(**overrides) -> OutgoingEmail:
    fields = {
        "to": Address("customer@example.com", "Ada Customer"),
        "subject": "Your return RMA-1001 is approved",
        "html": "<p>Approved.</p>",
        "text": "Approved.",
        "correlation_id": "msg-42",
        "categories": ("return_approved",),
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


@pytest.fixture
def tls_relay(esp_sandbox, tmp_path, settings):
    """Factory: an SMTP relay with STARTTLS or implicit TLS whose CA the client trusts."""
    cert, key = make_server_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    settings.SMTP_CA_FILE = str(cert)
    relays = []

    def start(*, implicit_tls: bool) -> SmtpSandbox:
        relay = SmtpSandbox(esp_sandbox, tls_context=context, implicit_tls=implicit_tls).start()
        relays.append(relay)
        settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, relay.port]
        return relay

    yield start
    for relay in relays:
        relay.stop()


def test_send_delivers_the_exact_message_with_correlation_headers(make_account, esp_sandbox):
    account = make_account("smtp", reply_to="help@shop.example")

    result = client_for(account).send(email())

    [record] = esp_sandbox.records("smtp")
    assert record["mail_from"] == "returns@shop.example"
    assert record["rcpt_tos"] == ["customer@example.com"]
    assert record["login"] == "apikey"
    assert record["subject"] == "Your return RMA-1001 is approved"
    assert record["from_"] == "Shop Returns <returns@shop.example>"
    assert record["to"] == "Ada Customer <customer@example.com>"
    assert record["text"].strip() == "Approved."
    assert record["html"].strip() == "<p>Approved.</p>"
    headers = record["headers"]
    assert headers["Message-ID"] == result.provider_message_id
    assert headers["Reply-To"] == "help@shop.example"
    assert headers["X-Returns-Mail-Id"] == "msg-42"
    assert json.loads(headers["X-SMTPAPI"]) == {
        "unique_args": {"rm_correlation_id": "msg-42"},
        "category": ["return_approved"],
    }
    assert json.loads(headers["X-MC-Metadata"]) == {"rm_correlation_id": "msg-42"}
    assert [r.status for r in result.recipients] == ["accepted"]


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_and_login(make_account, esp_sandbox, tls_relay, implicit_tls):
    relay = tls_relay(implicit_tls=implicit_tls)
    account = make_account(
        "smtp",
        smtp_port=relay.port,
        smtp_security="tls" if implicit_tls else "starttls",
    )

    client_for(account).send(email())

    [record] = esp_sandbox.records("smtp")
    assert record["tls"] is True
    assert record["login"] == "apikey"
    assert record["key"] == "...0001"


def test_untrusted_certificate_is_a_permanent_error(make_account, tls_relay, settings):
    relay = tls_relay(implicit_tls=False)
    settings.SMTP_CA_FILE = ""
    account = make_account("smtp", smtp_port=relay.port, smtp_security="starttls")

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(email())

    assert caught.value.permanent
    assert "certificate not trusted" in str(caught.value)


def test_rejected_login_is_permanent_and_never_shows_the_password(make_account, esp_sandbox):
    account = make_account("smtp", smtp_password="revoked-password-xyz")

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(email())

    error = caught.value
    assert error.permanent
    assert error.code == "535"
    assert "authentication failed" in str(error)
    assert "revoked-password-xyz" not in str(error) + repr(error)
    assert esp_sandbox.records("smtp") == []


def test_unreachable_relay_is_transient_and_not_ambiguous(make_account, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.SMTP_EXTRA_PORTS = [closed_port]
    account = make_account("smtp", smtp_port=closed_port)

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(email())

    assert caught.value.transient
    assert not caught.value.ambiguous


@pytest.fixture
def not_smtp(settings):
    """Factory: a loopback port with something on it that is no SMTP relay (its port allowed
    through SMTP_EXTRA_PORTS): `silent` accepts and says nothing (as a filtered port, the client
    times out), `banner` greets like another service, `close` hangs up at once."""
    stop, threads = threading.Event(), []

    def serve(listener: socket.socket, behaviour: str) -> None:
        held = []
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                if behaviour == "close":
                    conn.close()
                    continue
                if behaviour == "banner":
                    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                held.append(conn)
        for conn in held:
            conn.close()

    def start(behaviour: str) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        thread = threading.Thread(target=serve, args=(listener, behaviour), daemon=True)
        thread.start()
        threads.append(thread)
        port = listener.getsockname()[1]
        settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, port]
        return port

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def _closed_port(settings) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, port]
    return port


@pytest.mark.parametrize("what", ["closed", "silent", "banner", "close", "tls-to-plain-smtp"])
def test_nothing_tells_a_closed_port_from_a_filtered_one_or_another_service(
    make_account, esp_sandbox, not_smtp, settings, what
):
    if what == "closed":
        fields = {"smtp_port": _closed_port(settings)}
    elif what == "tls-to-plain-smtp":  # a TLS handshake with a server that does not speak TLS
        fields = {"smtp_security": "tls"}
    else:
        fields = {"smtp_port": not_smtp(what)}
    account = make_account("smtp", **fields)

    check = client_for(account, timeout=0.5).check_credentials()
    with pytest.raises(ProviderError) as caught:
        client_for(account, timeout=0.5).send(email())

    where = f"127.0.0.1:{account.smtp_port}"
    expected = f"smtp account '{account.name}': could not reach an SMTP server at {where}"
    assert not check.ok
    assert check.detail == f"{expected} (transient)"
    assert str(caught.value) == f"{expected} (transient)"
    assert caught.value.transient
    assert not caught.value.ambiguous
    assert esp_sandbox.records("smtp") == []


def test_a_port_no_relay_uses_is_refused_without_connecting(make_account, esp_sandbox):
    with socket.socket() as listener:  # say, a cache or a database on the same network
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        account = make_account("smtp")
        ProviderAccount.objects.filter(pk=account.pk).update(smtp_port=port)  # past the form
        account.refresh_from_db()

        check = client_for(account).check_credentials()
        with pytest.raises(ProviderConfigurationError) as caught:
            client_for(account).send(email())

        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert not check.ok
    assert f"Port {port} is not an allowed SMTP port" in check.detail
    assert "25, 465, 587, 2525" in check.detail
    assert caught.value.permanent


def test_temporary_refusal_is_transient(make_account, esp_sandbox):
    esp_sandbox.faults.add(TEST_SMTP_PASSWORD, _fault("503", times=1))
    account = make_account("smtp")

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(email())

    assert caught.value.transient
    assert caught.value.code == "451"
    # The fault was used up: the retry goes through.
    client_for(account).send(email())
    assert len(esp_sandbox.records("smtp")) == 1


def test_slow_relay_beyond_the_timeout_is_ambiguous(make_account, esp_sandbox):
    esp_sandbox.faults.add(TEST_SMTP_PASSWORD, _fault("slow", delay=1.5, times=1))
    account = make_account("smtp")

    with pytest.raises(ProviderError) as caught:
        client_for(account, timeout=0.5).send(email())

    assert caught.value.transient
    assert caught.value.ambiguous


def test_check_credentials_reports_login_and_latency(make_account):
    check = client_for(make_account("smtp")).check_credentials()

    assert check.ok
    assert "250" in check.detail
    assert "logged in as apikey" in check.detail
    assert check.latency_ms > 0


def test_check_credentials_fails_with_the_relays_words(make_account):
    account = make_account("smtp", smtp_password="revoked-0000000000")

    check = client_for(account).check_credentials()

    assert not check.ok
    assert "535" in check.detail
    assert "revoked-0000000000" not in check.detail


def _fault(kind, **fields):
    from providers.sandbox.core import Fault

    return Fault(kind=kind, **fields)
