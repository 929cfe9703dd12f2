"""Integration uptime: credential checks against the sandbox and the intake readiness, stored
as HealthCheck rows with exact values; pruning; the schedules the migration creates."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_q.models import Schedule

import config.health
from analytics import tasks
from analytics.models import HealthCheck, HealthComponent
from analytics.services.health import (
    account_health_check,
    health_checks_prune,
    health_checks_run,
    intake_health_check,
)
from providers.sandbox.core import Fault
from providers.sandbox.sendgrid import SCOPES
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

SENDGRID_KEY = TEST_KEYS["sendgrid"]
SCHEDULES = {
    "analytics: health checks and uptime": "analytics.tasks.run_health_checks",
    "analytics: evaluate alert rules": "analytics.tasks.evaluate_alerts",
}


def test_a_passing_check_is_stored_and_remembered_on_the_account(make_account, esp_sandbox):
    account = make_account("sendgrid")
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("slow", times=1, delay=0.2))

    row = account_health_check(account_id=account.pk)

    account.refresh_from_db()
    assert HealthCheck.objects.get() == row
    assert (row.component, row.account, row.ok) == (HealthComponent.PROVIDER, account, True)
    assert row.detail == f"mail.send granted ({len(SCOPES)} scopes)"
    assert row.latency_ms == account.last_check_latency_ms
    assert row.latency_ms >= 200  # the provider's answer took 0.2 s
    assert (account.last_check_ok, account.last_check_detail) == (True, row.detail)
    assert [r["path"] for r in esp_sandbox.records("sendgrid")] == ["/v3/scopes"]


def test_a_sandbox_fault_makes_the_check_fail_in_the_providers_words(make_account, esp_sandbox):
    account = make_account("sendgrid")
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("503"))

    row = account_health_check(account_id=account.pk)

    account.refresh_from_db()
    assert (row.ok, account.last_check_ok) == (False, False)
    assert "HTTP 503" in row.detail
    assert "service unavailable" in row.detail
    assert SENDGRID_KEY not in row.detail
    assert esp_sandbox.records("sendgrid") == []  # the fault answered, nothing was accepted


def test_a_revoked_key_fails_and_never_reaches_the_row(make_account):
    key = "SG.revoked.key-0042"
    account = make_account("sendgrid", api_key=key)

    row = account_health_check(account_id=account.pk)

    assert row.ok is False
    assert "HTTP 401" in row.detail
    assert key not in row.detail


def test_a_missing_key_is_a_failed_check_not_a_crash(make_account, esp_sandbox):
    account = make_account("mailchimp_transactional", api_key="")

    row = account_health_check(account_id=account.pk)

    assert (row.ok, row.account) == (False, account)
    assert "api_key is not set" in row.detail
    assert esp_sandbox.records() == []


def test_the_periodic_run_checks_every_active_account_and_the_intake(
    make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    sendgrid = make_account("sendgrid")
    mandrill = make_account("mailchimp_transactional")
    smtp = make_account("smtp")
    make_account("sendgrid", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        intake = tasks.run_health_checks()

    provider_rows = HealthCheck.objects.filter(component=HealthComponent.PROVIDER)
    assert sorted((r.account_id, r.ok) for r in provider_rows) == [
        (sendgrid.pk, True),
        (mandrill.pk, True),
        (smtp.pk, True),
    ]
    intake_row = HealthCheck.objects.get(component=HealthComponent.INTAKE)
    assert intake_row.pk == intake
    assert (intake_row.account, intake_row.ok) == (None, True)
    assert intake_row.detail == "database ok, broker ok"
    assert [r["path"] for r in esp_sandbox.records("sendgrid")] == ["/v3/scopes"]
    assert [r["path"] for r in esp_sandbox.records("mandrill")] == ["/api/1.3/users/ping.json"]


def test_a_slow_provider_is_cut_off_by_the_timeout_and_the_others_are_still_checked(
    make_account, esp_sandbox, settings, django_capture_on_commit_callbacks
):
    settings.PROVIDER_TIMEOUT = 0.5
    slow = make_account("sendgrid")
    fine = make_account("mailchimp_transactional")
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("slow", delay=1.5))

    with django_capture_on_commit_callbacks(execute=True):
        health_checks_run()

    rows = {r.account_id: r for r in HealthCheck.objects.filter(component="provider")}
    assert rows[slow.pk].ok is False
    assert "no answer from SendGrid within 0.5s" in rows[slow.pk].detail
    assert rows[fine.pk].ok is True


def test_an_intake_failure_is_stored_without_the_error_text(monkeypatch, caplog):
    def unreachable():
        raise ConnectionError("redis://:hunter2@10.0.0.7:6379 refused")

    monkeypatch.setitem(config.health.READINESS_CHECKS, "broker", unreachable)
    caplog.set_level(logging.DEBUG)

    row = intake_health_check()

    assert (row.component, row.ok) == (HealthComponent.INTAKE, False)
    assert row.detail == "database ok, broker failed (ConnectionError)"
    assert "hunter2" not in caplog.text
    assert "intake readiness check 'broker' failed: ConnectionError" in caplog.text


def test_checks_older_than_35_days_are_pruned():
    now = timezone.now()
    for days in (40, 35.01, 34.99, 0):
        HealthCheck.objects.create(
            component=HealthComponent.INTAKE, checked_at=now - timedelta(days=days), ok=True
        )

    assert health_checks_prune(now=now) == 2

    assert sorted(round((now - c).total_seconds() / 86400, 2) for c in _checked_at()) == [
        0,
        34.99,
    ]


def test_the_periodic_run_prunes_too(django_capture_on_commit_callbacks):
    HealthCheck.objects.create(
        component=HealthComponent.INTAKE, checked_at=timezone.now() - timedelta(days=36), ok=True
    )

    with django_capture_on_commit_callbacks(execute=True):
        health_checks_run()

    assert HealthCheck.objects.count() == 1  # only this run's intake check


def test_the_schedules_exist_after_migrate():
    rows = Schedule.objects.filter(name__in=SCHEDULES)

    assert sorted((s.name, s.func, s.schedule_type, s.minutes, s.repeats) for s in rows) == sorted(
        (name, func, Schedule.MINUTES, 1, -1) for name, func in SCHEDULES.items()
    )
    for func in SCHEDULES.values():  # every scheduled function exists
        assert callable(getattr(tasks, func.rsplit(".", 1)[1]))


def test_the_schedule_migration_is_idempotent_and_reversible():
    migration = importlib.import_module("analytics.migrations.0003_schedules")
    apps = MigrationExecutor(connection).loader.project_state().apps
    editor = SimpleNamespace(connection=connection)

    migration.create_schedules(apps, editor)
    assert Schedule.objects.filter(name__in=SCHEDULES).count() == 2

    migration.delete_schedules(apps, editor)
    assert not Schedule.objects.filter(name__in=SCHEDULES).exists()
    migration.create_schedules(apps, editor)
    assert Schedule.objects.filter(name__in=SCHEDULES).count() == 2


def _checked_at():
    return HealthCheck.objects.values_list("checked_at", flat=True)
