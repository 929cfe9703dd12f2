"""Bearer tokens, scopes and the per-client rate limit."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from returns_mail.api.throttling import ClientRateThrottle
from returns_mail.api.views import EventDetailView
from returns_mail.models import ApiClient
from returns_mail.services import config_cache
from returns_mail.services.api_clients import api_client_rotate
from tests.conftest import free_port
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    BATCH,
    EVENTS,
    api_client_fixture,
    api_fixture,
    api_for,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
    row_counts,
)

pytestmark = pytest.mark.django_db


def error(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": {}, **extra}}


def assert_401(
    response, message: str, code: str = "authentication_failed", *, events_before: int = 0
) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == error(code, message)
    assert row_counts()[0] == events_before


def test_no_token_is_401_with_www_authenticate(db):
    response = post_json(APIClient(), EVENTS, event_body())

    assert_401(response, "Authentication credentials were not provided.", "not_authenticated")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer rm_not-a-real-token", "Invalid token, or its client is inactive."),
        ("Bearer not-even-our-prefix", "Invalid token, or its client is inactive."),
        ("Bearer ", "Malformed bearer token."),
        ("Bearer rm_a rm_b", "Malformed bearer token."),
        ("Basic dXNlcjpwYXNz", 'Use "Authorization: Bearer <token>".'),
        ("Token rm_abc", 'Use "Authorization: Bearer <token>".'),
    ],
)
def test_a_bad_authorization_header_is_401(db, header, message):
    response = post_json(APIClient(), EVENTS, event_body(), HTTP_AUTHORIZATION=header)

    assert_401(response, message)


def test_an_inactive_clients_token_is_401(api, api_client):
    ApiClient.objects.filter(pk=api_client[0].pk).update(is_active=False)

    assert_401(post_json(api, EVENTS, event_body()), "Invalid token, or its client is inactive.")


def test_a_client_deactivated_in_the_admin_is_refused_at_once(api, api_client):
    assert post_json(api, EVENTS, event_body()).status_code == 202  # now cached
    client = ApiClient.objects.get(pk=api_client[0].pk)
    client.is_active = False
    client.save()  # as the admin does: this process forgets the cached client

    response = post_json(api, EVENTS, event_body(return_id="RMA-2"))
    assert_401(response, "Invalid token, or its client is inactive.", events_before=1)


def test_another_process_sees_a_deactivation_within_the_cache_lifetime(
    api, api_client, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(config_cache.time, "monotonic", lambda: clock[0])
    assert post_json(api, EVENTS, event_body()).status_code == 202
    # Another process's save: no signal reaches this one.
    ApiClient.objects.filter(pk=api_client[0].pk).update(is_active=False)

    clock[0] += config_cache.CACHE_SECONDS - 0.5
    assert post_json(api, EVENTS, event_body(return_id="RMA-2")).status_code == 202
    clock[0] += 1.0
    response = post_json(api, EVENTS, event_body(return_id="RMA-3"))
    assert_401(response, "Invalid token, or its client is inactive.", events_before=2)


def test_a_rotated_token_stops_working_and_the_new_one_works(api, api_client):
    assert post_json(api, EVENTS, event_body()).status_code == 202  # the old token is cached
    new_token = api_client_rotate(client=api_client[0])

    response = post_json(api, EVENTS, event_body(return_id="RMA-3"))
    assert_401(response, "Invalid token, or its client is inactive.", events_before=1)
    assert post_json(api_for(new_token), EVENTS, event_body(return_id="RMA-2")).status_code == 202


def test_the_scheme_is_case_insensitive(api_client):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {api_client[1]}")

    assert post_json(client, EVENTS, event_body()).status_code == 202


def test_no_token_appears_in_the_logs(api_client, caplog):
    caplog.set_level(logging.DEBUG)
    _, token = api_client
    wrong = token[:-4] + "AAAA"

    post_json(api_for(wrong), EVENTS, event_body())
    post_json(api_for(token), EVENTS, {"type": "nope"})
    post_json(api_for(token), EVENTS, event_body())

    assert caplog.records  # the 401 and the 400 are logged...
    assert token not in caplog.text  # ...without the token
    assert wrong not in caplog.text
    assert token[3:20] not in caplog.text


# --- scopes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_posting_needs_events_write(make_client, path):
    _, token = make_client(scopes=["messages:read"])

    response = post_json(api_for(token), path, event_body())

    assert response.status_code == 403
    assert response.json() == error(
        "insufficient_scope",
        'This token lacks the scope "events:write".',
        required_scope="events:write",
    )
    assert row_counts() == (0, 0)


@pytest.mark.parametrize("path", ["/api/v1/events/1", "/api/v1/returns/RMA-1001/messages"])
def test_reading_needs_messages_read(make_client, path):
    _, token = make_client(scopes=["events:write"])

    response = api_for(token).get(path)

    assert response.status_code == 403
    assert response.json() == error(
        "insufficient_scope",
        'This token lacks the scope "messages:read".',
        required_scope="messages:read",
    )


def test_a_method_the_endpoint_lacks_is_405(api):
    response = api.get(EVENTS)

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "GET" not allowed.')
    assert response["Allow"] == "POST"


def _reads_of_own_event(api) -> list[str]:
    """The two read URLs of an event the client just posted (so a read would find it)."""
    posted = post_json(api, EVENTS, event_body())
    assert posted.status_code == 202
    return [f"/api/v1/events/{posted.json()['id']}", "/api/v1/returns/RMA-1001/messages"]


def test_head_needs_messages_read_exactly_like_get(make_client):
    """HEAD answers GET's status and headers without the body: a write-only token learns
    neither whether an event or return exists nor how long its answer is."""
    _, token = make_client(scopes=["events:write"])
    api = api_for(token)

    for path in [*_reads_of_own_event(api), "/api/v1/events/999999", "/api/v1/returns/X/messages"]:
        get, head = api.get(path), api.head(path)

        assert (get.status_code, head.status_code) == (403, 403), path
        assert get.json()["error"]["code"] == "insufficient_scope"
        assert head.content == b""
        assert head["Content-Type"] == get["Content-Type"] == "application/json"
        assert head.get("Content-Length") == get.get("Content-Length")


def test_head_with_messages_read_answers_as_get(make_client):
    _, token = make_client(scopes=["events:write", "messages:read"])
    api = api_for(token)

    for path in _reads_of_own_event(api):
        get, head = api.get(path), api.head(path)

        assert (get.status_code, head.status_code) == (200, 200), path
        assert head.content == b""
        assert head["Allow"] == get["Allow"] == "GET, HEAD"
    assert api.head("/api/v1/events/999999").status_code == 404


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (EVENTS, "POST"),
        (BATCH, "POST"),
        ("/api/v1/events/1", "GET, HEAD"),
        ("/api/v1/returns/RMA-1001/messages", "GET, HEAD"),
    ],
)
@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PATCH", "DELETE"])
def test_a_method_without_a_declared_scope_is_405_for_every_token(api, path, allow, method):
    response = api.generic(method, path)

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", f'Method "{method}" not allowed.')
    assert response["Allow"] == allow


def test_a_handler_whose_method_names_no_scope_is_refused(api_client):
    """Fail closed: a view that grows a handler without naming its scope answers 405, it does
    not run the handler unchecked."""

    class Unscoped(EventDetailView):
        def delete(self, request, event_id):
            return Response(status=204)

    request = APIRequestFactory().delete("/x", HTTP_AUTHORIZATION=f"Bearer {api_client[1]}")
    response = Unscoped.as_view()(request, event_id=1).render()

    assert response.status_code == 405
    assert json.loads(response.content)["error"]["code"] == "method_not_allowed"


# --- rate limit -------------------------------------------------------------------------------
WINDOW_START = 60 * 29_000_000  # a minute boundary, as seconds since the epoch


def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_stored(make_client, monkeypatch):
    now = [WINDOW_START + 15.2]
    monkeypatch.setattr(ClientRateThrottle, "timer", lambda self: now[0])
    _, token = make_client(rate_limit_per_minute=2)
    api = api_for(token)

    statuses = [post_json(api, EVENTS, event_body()).status_code for _ in range(2)]
    throttled = post_json(api, EVENTS, event_body())

    assert statuses == [202, 202]
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "45"
    assert throttled.json() == error(
        "throttled", "Request was throttled. Expected available in 45 seconds.", retry_after=45
    )
    assert row_counts() == (2, 0)
    # Reads count too: the limit is per client, not per endpoint.
    assert api.get("/api/v1/returns/RMA-1001/messages").status_code == 429

    now[0] = WINDOW_START + 60.0  # the next minute
    assert post_json(api, EVENTS, event_body()).status_code == 202


def test_the_limit_is_per_client(make_client, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "timer", lambda self: WINDOW_START + 1.0)
    _, busy = make_client(rate_limit_per_minute=1)
    _, other = make_client(rate_limit_per_minute=1)

    post_json(api_for(busy), EVENTS, event_body())

    assert post_json(api_for(busy), EVENTS, event_body()).status_code == 429
    assert post_json(api_for(other), EVENTS, event_body()).status_code == 202


def test_an_unreachable_counter_store_lets_requests_through(api, settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    assert post_json(api, EVENTS, event_body()).status_code == 202
    assert "rate limit not checked" in caplog.text
    assert row_counts()[0] == 1


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="counts in Redis only with REDIS_URL")
def test_the_counter_is_shared_in_redis_and_expires(api_client, api, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "timer", lambda self: WINDOW_START + 1.0)

    post_json(api, EVENTS, event_body())
    post_json(api, EVENTS, event_body())

    store = redis.Redis.from_url(django_settings.REDIS_URL)
    key = cache.make_key(f"throttle:api-client:{api_client[0].pk}:{WINDOW_START // 60}")
    assert store.get(key) == b"2"
    assert 60 < store.ttl(key) <= 120
