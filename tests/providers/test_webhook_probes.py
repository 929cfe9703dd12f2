"""Before any event: is a request the provider checking the webhook URL (`probe_answer`), and
which kind of account posts to an endpoint (`endpoint_kind`)."""

from __future__ import annotations

import pytest

from providers.models import ProviderAccount
from providers.webhooks import WebhookForged, endpoint_kind, probe_answer

SECRET = "u7Vq-url-secret-0001-0123456789abcdef"


def account(kind: str) -> ProviderAccount:
    return ProviderAccount(kind=kind, webhook_secret=SECRET)


@pytest.mark.parametrize(
    ("kind", "method", "url_secret", "probe"),
    [
        ("mailchimp_transactional", "HEAD", None, True),  # unsigned: Mandrill signs no HEAD
        ("mailchimp_transactional", "GET", None, False),
        ("mailchimp_transactional", "POST", None, False),
        ("mailchimp_marketing", "GET", SECRET, True),
        ("mailchimp_marketing", "HEAD", SECRET, False),
        ("mailchimp_marketing", "POST", SECRET, False),
        ("sendgrid", "GET", None, False),
        ("sendgrid", "HEAD", None, False),
        ("smtp", "GET", None, False),
    ],
)
def test_each_provider_probes_its_url_its_own_way(kind, method, url_secret, probe):
    assert probe_answer(account(kind), method=method, url_secret=url_secret) is probe


@pytest.mark.parametrize("url_secret", [None, "", SECRET[:-1]])
def test_the_mailchimp_validator_is_answered_only_at_the_right_url_secret(url_secret):
    with pytest.raises(WebhookForged, match="webhook URL secret"):
        probe_answer(account("mailchimp_marketing"), method="GET", url_secret=url_secret)


def test_each_endpoint_takes_one_kind_of_account():
    assert {name: endpoint_kind(name) for name in ("sendgrid", "mandrill", "mailchimp")} == {
        "sendgrid": "sendgrid",
        "mandrill": "mailchimp_transactional",
        "mailchimp": "mailchimp_marketing",
    }
    with pytest.raises(ValueError, match="no webhook endpoint 'smtp'"):
        endpoint_kind("smtp")
