from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_authentication(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_503_when_the_database_fails_and_leaks_nothing(client, monkeypatch, caplog):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("connection to server at 10.0.0.5 failed: password=hunter2")

    monkeypatch.setattr(connection, "cursor", broken_cursor)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "failed"
    assert b"10.0.0.5" not in response.content
    assert b"hunter2" not in response.content
    assert "readiness check 'database' failed" in caplog.text


def test_readyz_is_503_when_the_broker_fails(client, monkeypatch):
    import config.health

    def unreachable():
        raise ConnectionError("broker down")

    monkeypatch.setitem(config.health.READINESS_CHECKS, "broker", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "failed"},
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes(client, path):
    assert client.post(path).status_code == 405
