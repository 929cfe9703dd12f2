"""The OpenAPI 3 schema and the Swagger UI page (served from local static files)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.validation import validate_schema

from returns_mail.catalogue import CATALOGUE
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    BATCH,
    EVENTS,
    api_client_fixture,
    api_fixture,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
)

PATHS = {
    "/api/v1/events": "post",
    "/api/v1/events/batch": "post",
    "/api/v1/events/{event_id}": "get",
    "/api/v1/returns/{return_id}/messages": "get",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema
    assert {path: set(ops) for path, ops in schema["paths"].items()} == {
        path: {method} for path, method in PATHS.items()
    }


def test_every_operation_needs_the_bearer_token(schema):
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    for path, method in PATHS.items():
        assert schema["paths"][path][method]["security"] == [{"bearerToken": []}]


def test_request_and_responses_are_described_with_the_error_format(schema):
    post = schema["paths"]["/api/v1/events"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/EventRequest"}
    # One example per event type, each its catalogue sample.
    examples = [example["value"] for example in body["examples"].values()]
    assert [e["type"] for e in examples] == list(CATALOGUE)
    assert [e["data"] for e in examples] == [t.sample for t in CATALOGUE.values()]
    errors = ("400", "401", "403", "409", "413", "415", "429", "503")
    assert set(post["responses"]) == {"202", *errors}
    for status in errors:
        content = post["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "fields"}
    assert {p["name"] for p in post["parameters"]} == {
        "Idempotency-Key"
    }  # response headers are listed with their responses
    assert "Idempotent-Replay" in post["responses"]["202"]["headers"]
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert "Retry-After" in post["responses"]["503"]["headers"]


def test_the_event_request_names_its_fields_and_the_catalogue(schema):
    event = schema["components"]["schemas"]["EventRequest"]
    assert set(event["required"]) == {"type", "occurred_at", "return_id", "order_id", "customer"}
    assert event["properties"]["occurred_at"]["format"] == "date-time"
    description = schema["paths"]["/api/v1/events"]["post"]["description"]
    for key, event_type in CATALOGUE.items():
        assert f"**`{key}`**" in description
        for field in event_type.fields:
            assert f"`{field.name}`" in description


def test_the_reads_are_described(schema):
    detail = schema["paths"]["/api/v1/events/{event_id}"]["get"]
    assert detail["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventDetail"
    }
    message = schema["components"]["schemas"]["Message"]["properties"]
    assert {"status", "status_changed_at", "provider_message_id", "account", "template"} <= set(
        message
    )


def test_the_docs_page_loads_only_local_static_files():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    # favicon, CSS, the bundle, the preset, and the start-up script (a file, not inline: CSP)
    *static, script = urls
    assert len(static) == 4
    for url in static:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert script == "/api/docs/?script="
    assert not re.search(r"https?://", html)
    start_up = Client().get(script).content.decode()
    assert '"/api/schema/"' in start_up
    assert '"validatorUrl": null' in start_up  # no badge fetched from validator.swagger.io


def test_manage_py_spectacular_validates_without_warnings(manage, tmp_path):
    out = tmp_path / "schema.yaml"

    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert out.read_text().startswith("openapi: 3.0.3")


@pytest.mark.django_db
def test_every_documented_example_is_accepted(schema, api):
    body = schema["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    batch = schema["paths"]["/api/v1/events/batch"]["post"]["requestBody"]["content"]

    for example in body["examples"].values():
        response = post_json(api, EVENTS, example["value"])
        assert response.status_code == 202, response.json()
    [batch_example] = batch["application/json"]["examples"].values()
    results = post_json(api, BATCH, batch_example["value"]).json()["results"]
    assert [r["status"] for r in results] == [202, 202]
