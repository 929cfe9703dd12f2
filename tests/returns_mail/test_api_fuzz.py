"""API fuzzing: schemathesis generates thousands of requests from the API's own
OpenAPI schema (valid and invalid: positive and negative data) and calls the WSGI application in
process, with a real token holding every scope. Every answer must be: no 5xx, a documented
status code, a documented content type and headers, and a body that fits the documented schema.

Derandomized so that CI replays the same requests on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import DataGenerationMethod
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationConfig, HeaderConfig

from returns_mail.services.api_clients import api_client_create
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    BOTH_SCOPES,
    own_cache_keys_fixture,
)

pytestmark = pytest.mark.django_db

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
# Per operation and generation method (positive, negative): 4 operations x 2 x 300 = 2,400 at
# most. One of the eight has no invalid input (a string path parameter is any string): 2,100.
# FUZZ_MAX_EXAMPLES=20 makes a quick local run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "300"))
MIN_REQUESTS = 7 * MAX_EXAMPLES
HEADER_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))  # visible ASCII


@pytest.fixture
def token(db) -> str:
    # Well over the number of requests: the rate limit (429, documented) must not hide the rest.
    _, token = api_client_create(name="fuzzer", scopes=BOTH_SCOPES, rate_limit_per_minute=1_000_000)
    return token


@pytest.fixture
def api_schema(settings, token):
    settings.SECURE_SSL_REDIRECT = False  # requests come in over plain http://localhost
    response = Client().get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    # As Django's test client does: the test's connection (and transaction) outlives requests.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.from_dict(
            json.loads(response.content),
            # config.wsgi's application less its start-up guard (which reads the database).
            app=get_wsgi_application(),
            data_generation_methods=DataGenerationMethod.all(),
            # The token is ours (every request is authenticated: auth is tested elsewhere);
            # header values are what HTTP carries, so generating others is wasted time.
            generation_config=GenerationConfig(
                with_security_parameters=False,
                headers=HeaderConfig(strategy=st.text(alphabet=HEADER_CHARS, max_size=300)),
            ),
        )
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def _fuzz(operation, method: DataGenerationMethod, headers: dict, calls: list) -> None:
    @given(case=operation.as_strategy(data_generation_method=method))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,  # derandomized: nothing to remember between runs
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(headers=headers)
        calls.append((operation.verbose_name, method.name, response.status_code))
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except Unsatisfiable:
        # No invalid value exists for some operations (a string path parameter is any string).
        assert method is DataGenerationMethod.negative


def test_generated_requests_get_documented_answers(api_schema, token):
    headers = {"Authorization": f"Bearer {token}"}
    calls: list[tuple[str, str, int]] = []
    started = time.monotonic()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for method in DataGenerationMethod.all():
            _fuzz(operation, method, headers, calls)
    elapsed = time.monotonic() - started
    print(f"\n{len(calls)} generated requests in {elapsed:.1f}s:")
    for (name, method, code), count in sorted(Counter(calls).items()):
        print(f"  {name} ({method}): {code} x {count}")
    assert len(calls) >= MIN_REQUESTS
    assert not [call for call in calls if call[2] >= 500]
