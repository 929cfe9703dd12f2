from __future__ import annotations

import pytest

from providers.exceptions import ProviderRequestError, is_permanent_status, retry_after_seconds


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (413, True),
        (422, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (None, False),
    ],
)
def test_status_classification(status, permanent):
    assert is_permanent_status(status) is permanent


def test_retry_after_in_seconds_and_as_http_date():
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    delay = retry_after_seconds({"retry-after": "Thu, 26 Nov 2026 12:00:30 GMT"}, now=1795694400.0)
    assert delay == 30.0


def test_rate_limit_reset_counts_only_on_a_429():
    headers = {"X-RateLimit-Reset": "1000060"}

    assert retry_after_seconds(headers, status=429, now=1_000_000.0) == 60.0
    assert retry_after_seconds(headers, status=500, now=1_000_000.0) is None


def test_unparseable_or_missing_headers_give_no_delay():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None


def test_error_text_names_provider_account_status_code_and_kind():
    error = ProviderRequestError(
        "Invalid API key",
        provider="mailchimp_transactional",
        account="Main",
        status=500,
        code="Invalid_Key",
        permanent=True,
    )

    assert str(error) == (
        "mailchimp_transactional account 'Main' HTTP 500 Invalid_Key: Invalid API key (permanent)"
    )
    assert error.partial_results == []
