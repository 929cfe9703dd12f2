"""The sandbox's domain-authentication endpoints answer with the providers' real paths and
shapes: SendGrid `/v3/whitelabel/domains` (limit/offset paging, the domain filter, 201 on
create) and Mandrill `senders/domains`, `add-domain`, `check-domain`; the clients read them."""

from __future__ import annotations

import pytest
import requests

from providers.clients import client_for
from providers.sandbox.mandrill_senders import sending_domain_set
from providers.sandbox.sendgrid_domains import domain_authenticate
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

SG_AUTH = {"Authorization": f"Bearer {TEST_KEYS['sendgrid']}"}


def test_sendgrid_create_list_and_get_a_domain_authentication(esp_sandbox):
    base = esp_sandbox.base_url("sendgrid") + "/v3/whitelabel/domains"

    created = requests.post(base, json={"domain": "Shop.example"}, headers=SG_AUTH, timeout=5)
    again = requests.post(base, json={"domain": "shop.example"}, headers=SG_AUTH, timeout=5)
    listed = requests.get(base, params={"domain": "shop.example"}, headers=SG_AUTH, timeout=5)
    one = requests.get(f"{base}/{created.json()['id']}", headers=SG_AUTH, timeout=5)
    missing = requests.get(f"{base}/999", headers=SG_AUTH, timeout=5)

    assert created.status_code == 201
    body = created.json()
    assert (body["domain"], body["valid"], body["automatic_security"]) == (
        "shop.example",
        False,
        True,
    )
    assert body["dns"]["dkim1"] == {
        "valid": False,
        "type": "cname",
        "host": "s1._domainkey.shop.example",
        "data": "s1.domainkey.u1.wl.sendgrid.net",
    }
    assert again.status_code == 400
    assert listed.json() == [body]
    assert one.json() == body
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"field": None, "message": "resource not found"}]}


def test_sendgrid_domain_list_pages_and_refuses_a_bad_limit(esp_sandbox):
    base = esp_sandbox.base_url("sendgrid") + "/v3/whitelabel/domains"
    for n in range(3):
        domain_authenticate(esp_sandbox, TEST_KEYS["sendgrid"], f"d{n}.example")

    page = requests.get(base, params={"limit": 2, "offset": 1}, headers=SG_AUTH, timeout=5)
    bad = requests.get(base, params={"limit": 0}, headers=SG_AUTH, timeout=5)

    assert [d["domain"] for d in page.json()] == ["d1.example", "d2.example"]
    assert bad.status_code == 400


def test_the_sendgrid_client_asks_for_its_domain_only(make_account, esp_sandbox):
    account = make_account("sendgrid")
    key = TEST_KEYS["sendgrid"]
    for n in range(3):
        domain_authenticate(esp_sandbox, key, "shop.example" if n == 2 else f"d{n}.example")

    status = client_for(account).domain_authentication("Shop.Example")

    assert status.found
    assert status.valid
    calls = esp_sandbox.records("sendgrid", "/v3/whitelabel/domains")
    assert len(calls) == 1


def test_mandrill_sending_domains_through_the_sdk(make_account, esp_sandbox):
    account = make_account("mailchimp_transactional")
    client = client_for(account)

    empty = client.domain_authentication("shop.example")
    client._call("senders", "add_domain", {"domain": "Shop.example"})
    added = client.domain_authentication("shop.example")
    sending_domain_set(esp_sandbox, TEST_KEYS["mailchimp_transactional"], "shop.example")
    valid = client.domain_authentication("shop.example")
    checked = client._call("senders", "check_domain", {"domain": "other.example"})

    assert not empty.found
    assert added.found
    assert not added.valid
    assert "SPF not valid: SPF record not found" in added.problems
    assert valid.valid
    assert valid.detail == "valid for signing"
    assert checked["domain"] == "other.example"
    assert set(checked) >= {"spf", "dkim", "dkim2", "dmarc", "valid_signing", "verify_txt_key"}
    paths = [r["path"] for r in esp_sandbox.records("mandrill")]
    assert paths.count("/api/1.3/senders/domains.json") == 3


def test_mandrill_refuses_a_blank_domain(make_account):
    from providers.exceptions import ProviderRequestError

    client = client_for(make_account("mailchimp_transactional"))

    with pytest.raises(ProviderRequestError) as refused:
        client._call("senders", "add_domain", {"domain": " "})

    assert refused.value.code == "ValidationError"
