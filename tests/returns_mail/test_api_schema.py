"""The OpenAPI 3 schema and the Swagger UI page (served from local static files)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.validation import validate_schema

from templates_lib.catalogue import CATALOGUE
from tests.analytics import factories
from tests.config.test_settings import PRODUCTION, settings_of
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


@pytest.fixture
def schema(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return json.loads(response.content)


@pytest.fixture
def it_admin_client(db) -> Client:
    """A browser signed in to the admin as an IT admin (the group, not a superuser)."""
    client = Client()
    client.force_login(factories.it_admin("itadmin"))
    return client


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


def test_a_batch_item_error_is_the_same_error_object_as_a_single_event(schema):
    result = schema["components"]["schemas"]["BatchResult"]["properties"]
    assert "errors" not in result
    assert result["error"]["allOf"] == [{"$ref": "#/components/schemas/ErrorDetail"}]
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert error == {"$ref": "#/components/schemas/ErrorDetail"}


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


def test_the_docs_page_loads_only_local_static_files(it_admin_client):
    response = it_admin_client.get("/api/docs/")

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
    start_up = it_admin_client.get(script).content.decode()
    assert '"/api/schema/"' in start_up
    assert '"validatorUrl": null' in start_up  # no badge fetched from validator.swagger.io


# --- who may read the schema and the docs ---------------------------------------------------------
SCHEMA = "/api/schema/?format=json"
DOCS = "/api/docs/"
SCRIPT = "/api/docs/?script="


def assert_no_schema(response) -> None:
    assert b"EventRequest" not in response.content
    assert b"/api/v1/events" not in response.content


@pytest.mark.django_db
def test_without_a_session_or_token_the_docs_ask_for_a_login_and_the_schema_is_401():
    client = Client()

    schema = client.get(SCHEMA)
    docs, script = client.get(DOCS), client.get(SCRIPT)

    assert schema.status_code == 401
    assert schema["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(schema.content)["error"]["code"] == "not_authenticated"
    assert_no_schema(schema)
    assert (docs.status_code, docs["Location"]) == (302, "/admin/login/?next=/api/docs/")
    assert (script.status_code, script["Location"]) == (
        302,
        "/admin/login/?next=/api/docs/%3Fscript%3D",
    )


@pytest.mark.parametrize(
    "make_user",
    [
        lambda: factories.manager("manager"),
        lambda: factories.manager("staffmanager", is_staff=True),
        lambda: factories.user("nobody"),
    ],
    ids=["manager", "staff-manager", "no-role"],
)
@pytest.mark.django_db
def test_a_session_without_the_it_admin_role_is_403(make_user):
    client = Client()
    client.force_login(make_user())

    for url in (SCHEMA, DOCS, SCRIPT):
        response = client.get(url)
        assert response.status_code == 403, url
        assert_no_schema(response)


def test_an_it_admin_opens_the_docs_and_swagger_ui_loads_the_schema_with_the_session(
    it_admin_client,
):
    docs = it_admin_client.get(DOCS)
    [script_url] = re.findall(r'<script src="(/api/docs/\?script=)"', docs.content.decode())
    script = it_admin_client.get(script_url).content.decode()
    [schema_url] = re.findall(r'url: "([^"]+)"', script)
    # Swagger UI fetches the schema as JSON from the same origin: the session cookie goes along.
    schema = it_admin_client.get(schema_url, HTTP_ACCEPT="application/json")

    assert docs.status_code == 200
    assert schema.status_code == 200
    assert set(json.loads(schema.content)["paths"]) == set(PATHS)


@pytest.mark.parametrize("scopes", [["events:write"], ["messages:read"]])
def test_an_api_token_of_any_scope_reads_the_schema_and_the_docs(make_client, scopes):
    _, token = make_client(scopes=scopes)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert set(json.loads(client.get(SCHEMA).content)["paths"]) == set(PATHS)
    assert client.get(DOCS).status_code == 200


@pytest.mark.django_db
def test_a_wrong_token_is_401_not_a_login_page():
    client = Client(HTTP_AUTHORIZATION="Bearer rm_not-a-real-token")

    for url in (SCHEMA, DOCS):
        response = client.get(url)
        assert response.status_code == 401, url
        assert_no_schema(response)


@pytest.mark.django_db
def test_api_docs_public_opens_both_to_everyone(settings):
    settings.API_DOCS_PUBLIC = True
    client = Client()

    assert set(json.loads(client.get(SCHEMA).content)["paths"]) == set(PATHS)
    assert client.get(DOCS).status_code == 200
    assert client.get(SCRIPT).status_code == 200


def test_api_docs_public_comes_from_the_environment_and_is_off_by_default(child_env):
    assert settings_of(child_env(**PRODUCTION), "API_DOCS_PUBLIC") == {"API_DOCS_PUBLIC": False}
    assert settings_of(child_env(**PRODUCTION, API_DOCS_PUBLIC="true"), "API_DOCS_PUBLIC") == {
        "API_DOCS_PUBLIC": True
    }


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
