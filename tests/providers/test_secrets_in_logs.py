"""No provider failure path writes a secret to the logs or into the error, at any log level."""

from __future__ import annotations

import logging

import pytest

from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderError
from providers.sandbox.core import Fault
from tests.conftest import TEST_KEYS, TEST_SMTP_PASSWORD

pytestmark = pytest.mark.django_db

REVOKED = {
    "sendgrid": {"api_key": "SG.revoked-key.zz-secret-4711"},
    "mailchimp_marketing": {"api_key": "0123456789abcdef0123revoked4711-us6"},
    "mailchimp_transactional": {"api_key": "md-revoked-secret-4711"},
    "smtp": {"smtp_password": "revoked-smtp-secret-4711"},
}
KINDS = list(REVOKED)


def attempt(client):
    """The client's main call: a send, or for Mailchimp Marketing a member upsert."""
    if client.kind == "mailchimp_marketing":
        return client.member_upsert(email="ada@example.com", merge_fields={}, tags=[])
    return client.send(
        OutgoingEmail(
            to=Address("ada@example.com"),
            subject="s",
            html="<p>h</p>",
            text="t",
            correlation_id="c",
        )
    )


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("python_http_client", "urllib3", "mail.log", "providers"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    logging.getLogger("mail.log").setLevel(logging.ERROR)


@pytest.mark.parametrize("kind", KINDS)
def test_rejected_credentials(make_account, debug_logs, kind):
    account = make_account(kind, **REVOKED[kind])
    secret = next(iter(REVOKED[kind].values()))

    with pytest.raises(ProviderError) as caught:
        attempt(client_for(account))

    assert caught.value.permanent
    assert secret not in str(caught.value) + repr(caught.value)
    assert secret not in debug_logs.text
    assert debug_logs.records, "nothing was logged: the check would prove nothing"


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_and_dropped_connections(make_account, esp_sandbox, debug_logs, kind):
    account = make_account(kind)
    secret = TEST_SMTP_PASSWORD if kind == "smtp" else TEST_KEYS[kind]
    esp_sandbox.faults.add(secret, Fault("slow", delay=1.0, times=1))
    esp_sandbox.faults.add(secret, Fault("drop", times=1))

    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            attempt(client_for(account, timeout=0.3))
        assert caught.value.transient
        assert secret not in str(caught.value) + repr(caught.value)

    assert secret not in debug_logs.text
