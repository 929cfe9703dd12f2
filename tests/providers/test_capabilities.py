"""Callers ask a provider client what it can do: a client can do what it implements, and a
refusal says what to use instead."""

from __future__ import annotations

import pytest

from providers.clients import Capability, account_can, cannot_message, client_for, kinds_that_can
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError

pytestmark = pytest.mark.django_db

CAN = {
    "sendgrid": {Capability.SEND, Capability.SEND_BATCH},
    "mailchimp_transactional": {Capability.SEND, Capability.SEND_BATCH},
    "smtp": {Capability.SEND},
    "mailchimp_marketing": set(),
}


@pytest.mark.parametrize("kind", CAN)
def test_each_kind_can_what_its_client_implements(make_account, kind):
    account = make_account(kind)

    assert {c for c in Capability if account_can(account, c)} == CAN[kind]


def test_kinds_that_can_send_one_email():
    assert kinds_that_can(Capability.SEND) == ["sendgrid", "mailchimp_transactional", "smtp"]
    assert kinds_that_can(Capability.SEND_BATCH) == ["sendgrid", "mailchimp_transactional"]


def test_what_a_client_cannot_do_is_refused_with_what_to_use_instead(make_account, esp_sandbox):
    account = make_account("mailchimp_marketing")
    email = OutgoingEmail(
        to=Address("ann@example.com"),
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        correlation_id="c1",
    )

    with pytest.raises(ProviderConfigurationError) as refused:
        client_for(account).send(email)

    assert (
        "mailchimp_marketing accounts do not support sending a transactional email "
        "(use a Mailchimp Transactional account)"
    ) in str(refused.value)
    assert cannot_message(account, Capability.SEND, "send alert emails") == (
        "Mailchimp Marketing accounts cannot send alert emails "
        "(use a Mailchimp Transactional account)"
    )
    assert esp_sandbox.records("mailchimp") == []
