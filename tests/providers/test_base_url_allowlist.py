"""An account's API base URL may point only at the provider's own hosts (plus loopback and the
operator's extra hosts when the settings allow them): refused when saved, and refused again
when a client is about to call it, so a row edited in SQL cannot send our API key elsewhere."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError
from providers.forms import ProviderAccountForm
from providers.models import ProviderAccount
from tests.conftest import TEST_KEYS

SENDGRID = "sendgrid"
MARKETING = "mailchimp_marketing"
MANDRILL = "mailchimp_transactional"


def account(kind: str, url: str) -> ProviderAccount:
    return ProviderAccount(
        name=f"{kind} account",
        kind=kind,
        api_base_url=url,
        from_email="returns@shop.example",
        api_key=TEST_KEYS[kind],
        audience_id="aud001",
    )


def refusal(kind: str, url: str) -> str:
    """The validation message for ``url`` ("" when it is accepted)."""
    try:
        account(kind, url).full_clean()
    except ValidationError as exc:
        return " ".join(exc.message_dict.get("api_base_url", []))
    return ""


@pytest.fixture
def production_hosts(settings):
    """As in production: no loopback, no extra hosts."""
    settings.PROVIDER_ALLOW_LOOPBACK = False
    settings.PROVIDER_EXTRA_HOSTS = []


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (SENDGRID, ""),
        (SENDGRID, "https://api.sendgrid.com"),
        (SENDGRID, "https://api.eu.sendgrid.com/"),
        (SENDGRID, "https://API.EU.SendGrid.com"),  # host names are case-insensitive
        (SENDGRID, "https://api.sendgrid.com:443"),
        (MANDRILL, "https://mandrillapp.com"),
        (MANDRILL, "https://mandrillapp.com/api/1.0"),
        (MARKETING, "https://us6.api.mailchimp.com"),
        (MARKETING, "https://US21.api.mailchimp.com"),
    ],
)
def test_the_providers_own_hosts_are_accepted(db, production_hosts, kind, url):
    assert refusal(kind, url) == ""


@pytest.mark.parametrize(
    ("kind", "url", "why"),
    [
        # another provider's host, or a look-alike
        (SENDGRID, "https://mandrillapp.com", "the host must be one of: api.sendgrid.com"),
        (MANDRILL, "https://api.sendgrid.com", "the host must be one of: mandrillapp.com"),
        (MARKETING, "https://api.mailchimp.com", "*.api.mailchimp.com"),
        (MARKETING, "https://a.b.api.mailchimp.com", "*.api.mailchimp.com"),
        (MARKETING, "https://us6.api.mailchimp.com.evil.example", "*.api.mailchimp.com"),
        (SENDGRID, "https://api.sendgrid.com.evil.example", "the host must be one of"),
        (SENDGRID, "https://evilapi.sendgrid.com", "the host must be one of"),
        # trailing dot: the same DNS name, but not one we compare equal
        (SENDGRID, "https://api.sendgrid.com./", "the host must be one of"),
        # plain http, other ports
        (SENDGRID, "http://api.sendgrid.com", "use https"),
        (MANDRILL, "https://mandrillapp.com:8443", "default https port"),
        # IP literals: cloud metadata, private networks, loopback when it is not allowed
        (SENDGRID, "https://169.254.169.254/latest/meta-data", "the host must be one of"),
        (SENDGRID, "http://10.0.0.1", "use https"),
        (MANDRILL, "https://[fd00::1]", "the host must be one of"),
        (SENDGRID, "http://127.0.0.1:8025/sendgrid", "use https"),
        (SENDGRID, "https://localhost", "the host must be one of"),
        (MANDRILL, "http://[::1]:8025", "use https"),
        # user info and other tricks that make a URL look like an allowed host
        (SENDGRID, "https://api.sendgrid.com@evil.example", "user name or password"),
        (SENDGRID, "https://user:pw@api.sendgrid.com", "user name or password"),
        (SENDGRID, "https://api.sendgrid.com\\@evil.example", "backslashes"),
        (SENDGRID, "https://api.sendgrid.com?next=https://evil.example", "query string"),
        (SENDGRID, "https://api.sendgrid.com#frag", "query string or fragment"),
        (SENDGRID, "ftp://api.sendgrid.com", "use https"),
    ],
)
def test_other_hosts_are_refused_naming_the_allowed_ones(db, production_hosts, kind, url, why):
    message = refusal(kind, url)

    assert why in message
    assert "is not an allowed API base URL" in message


def test_the_message_lists_every_allowed_host(db, production_hosts):
    message = refusal(SENDGRID, "https://evil.example")

    assert message.endswith("the host must be one of: api.sendgrid.com, api.eu.sendgrid.com.")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8025/sendgrid",
        "https://127.0.0.1",
        "http://localhost:9000",
        "http://LOCALHOST:9000",
        "http://[::1]:8025/mandrill",
    ],
)
def test_loopback_is_accepted_when_allowed(db, settings, url):
    settings.PROVIDER_ALLOW_LOOPBACK = True

    assert refusal(SENDGRID, url) == ""
    assert refusal(MANDRILL, url) == ""


@pytest.mark.parametrize(
    "url", ["http://127.0.0.2", "http://0x7f.0.0.1", "http://localhost.evil.example", "http://0"]
)
def test_only_the_three_loopback_names_count_as_loopback(db, settings, url):
    settings.PROVIDER_ALLOW_LOOPBACK = True

    assert refusal(SENDGRID, url) != ""


def test_loopback_hosts_are_listed_only_when_allowed(db, settings):
    settings.PROVIDER_ALLOW_LOOPBACK = True
    assert "127.0.0.1 (loopback, http allowed)" in refusal(SENDGRID, "https://evil.example")

    settings.PROVIDER_ALLOW_LOOPBACK = False
    assert "127.0.0.1" not in refusal(SENDGRID, "https://evil.example")


def test_extra_hosts_are_accepted_over_https_only(db, production_hosts, settings):
    settings.PROVIDER_EXTRA_HOSTS = ["esp-proxy.internal.example", "*.relay.example"]

    assert refusal(SENDGRID, "https://esp-proxy.internal.example:8443/sendgrid") == ""
    assert refusal(MANDRILL, "https://ESP-PROXY.internal.example") == ""
    assert refusal(MARKETING, "https://eu.relay.example") == ""
    assert "use https" in refusal(SENDGRID, "http://esp-proxy.internal.example")
    assert refusal(SENDGRID, "https://relay.example") != ""
    assert "esp-proxy.internal.example" in refusal(SENDGRID, "https://evil.example")


def test_the_admin_form_refuses_the_url_with_the_allowed_hosts(db, production_hosts):
    form = ProviderAccountForm(
        data={
            "name": "SendGrid main",
            "kind": SENDGRID,
            "purpose": "both",
            "priority": "10",
            "from_email": "returns@shop.example",
            "api_base_url": "https://169.254.169.254",
            "new_api_key": TEST_KEYS[SENDGRID],
            "smtp_security": "starttls",
        }
    )

    assert not form.is_valid()
    [message] = form.errors["api_base_url"]
    assert "api.sendgrid.com, api.eu.sendgrid.com" in message
    assert not ProviderAccount.objects.exists()


def email() -> OutgoingEmail:
    return OutgoingEmail(
        to=Address("customer@example.com"),
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        correlation_id="msg-1",
    )


@pytest.mark.parametrize(
    "kind", [SENDGRID, MANDRILL, MARKETING], ids=["sendgrid", "mandrill", "marketing"]
)
def test_a_url_edited_in_the_database_is_refused_at_call_time(make_account, esp_sandbox, kind):
    stored = make_account(kind)
    ProviderAccount.objects.filter(pk=stored.pk).update(
        api_base_url="https://api.sendgrid.com@169.254.169.254"
    )
    stored.refresh_from_db()
    client = client_for(stored)

    call = (
        (lambda: client.member_upsert(email="a@x.example"))
        if kind == MARKETING
        else (lambda: client.send(email()))
    )

    with pytest.raises(ProviderConfigurationError, match="user name or password") as caught:
        call()

    assert caught.value.permanent
    assert esp_sandbox.records() == []


def test_loopback_accounts_stop_working_when_loopback_is_not_allowed(
    make_account, esp_sandbox, settings
):
    stored = make_account(SENDGRID)  # the sandbox, on 127.0.0.1
    client_for(stored).send(email())
    assert len(esp_sandbox.records("sendgrid")) == 1

    settings.PROVIDER_ALLOW_LOOPBACK = False
    check = client_for(stored).check_credentials()

    assert not check.ok
    assert "api.sendgrid.com" in check.detail
    assert len(esp_sandbox.records("sendgrid")) == 1  # nothing more reached the sandbox


def test_the_marketing_data_centre_host_is_checked_too(db, production_hosts):
    marketing = account(MARKETING, "")

    client = client_for(marketing)._client()

    assert client.api_client.host == "https://us6.api.mailchimp.com/3.0"
