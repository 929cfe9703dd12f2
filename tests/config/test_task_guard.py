"""The task cluster runs this project's task entry points and nothing else: a schedule or task
naming any other function (`os.system`, say) is queued as a refusal that runs nothing, and the
schedule admin offers only the entry points, to superusers too."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_q.models import Failure, Schedule
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from config.task_guard import task_entry_points
from tests.analytics import factories
from tests.config.test_queue import broker_fixture  # noqa: F401 - the broker fixture

pytestmark = pytest.mark.django_db

CALLS: list[tuple] = []


def record_call(*args):
    """A function that exists and is importable, but is no task entry point."""
    CALLS.append(args)


@pytest.fixture(autouse=True)
def _no_calls():
    CALLS.clear()


def test_the_entry_points_are_our_apps_task_functions():
    points = task_entry_points()
    assert {
        "returns_mail.tasks.send_message",
        "returns_mail.tasks.sweep_messages",
        "analytics.tasks.purge_old_data",
        "templates_lib.tasks.sweep_template_syncs",
    } <= points
    assert all(
        p.split(".")[0] in {"providers", "templates_lib", "returns_mail", "analytics"}
        for p in points
    )
    assert "os.system" not in points


def test_a_task_naming_another_function_runs_nothing_and_fails_with_its_name():
    # Tasks run inline in tests, so the worker's failure is raised here.
    with pytest.raises(PermissionError, match=rf"{__name__}.record_call is not a task entry"):
        async_task(f"{__name__}.record_call", "touch /tmp/pwned")

    assert CALLS == []


def _queued_tasks(broker) -> list[dict]:
    tasks = []
    while broker.queue_size():
        for ack_id, pack in broker.dequeue() or []:
            tasks.append(SignedPackage.loads(pack))
            broker.acknowledge(ack_id)
    return tasks


def test_a_result_hook_naming_another_function_is_dropped(broker):
    async_task("returns_mail.tasks.sweep_campaigns", hook=f"{__name__}.record_call", broker=broker)

    [task] = _queued_tasks(broker)
    assert (task["func"], task["hook"]) == ("returns_mail.tasks.sweep_campaigns", None)


def test_a_schedule_naming_os_system_is_queued_as_a_refusal(broker, monkeypatch):
    # The scheduler closes stale connections first: that would close the test's database.
    monkeypatch.setattr("django_q.scheduler.close_old_django_connections", lambda: None)
    Schedule.objects.all().delete()  # the app's own schedules, from the migrations
    Schedule.objects.create(func="os.system", args="'id > /tmp/pwned'", name="evil")
    Schedule.objects.create(func="returns_mail.tasks.sweep_messages", name="sweep")

    scheduler(broker=broker)

    assert sorted((t["func"], t["args"]) for t in _queued_tasks(broker)) == [
        ("config.task_guard.refused", ("os.system",)),
        ("returns_mail.tasks.sweep_messages", ()),
    ]


# --- the admin ---------------------------------------------------------------------------------


def _schedule_form(func: str, hook: str = "") -> dict:
    return {
        "name": "nightly",
        "func": func,
        "hook": hook,
        "args": "",
        "kwargs": "",
        "schedule_type": Schedule.DAILY,
        "repeats": "-1",
        "next_run_0": "2026-12-04",
        "next_run_1": "03:00:00",
        "minutes": "",
        "cron": "",
        "cluster": "",
        "intended_date_kwarg": "",
    }


@pytest.fixture(name="superuser_client")
def superuser_client_fixture():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.mark.parametrize("func", ["os.system", f"{__name__}.record_call", "builtins.exec"])
def test_a_superuser_cannot_schedule_a_function_outside_the_entry_points(superuser_client, func):
    response = superuser_client.post("/admin/django_q/schedule/add/", _schedule_form(func))

    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.filter(name="nightly").exists()


def test_a_superuser_cannot_set_a_result_hook_outside_the_entry_points(superuser_client):
    form = _schedule_form("returns_mail.tasks.sweep_messages", hook="os.system")

    response = superuser_client.post("/admin/django_q/schedule/add/", form)

    assert "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.filter(name="nightly").exists()


def test_a_superuser_schedules_an_entry_point(superuser_client):
    form = _schedule_form("returns_mail.tasks.sweep_messages")

    response = superuser_client.post("/admin/django_q/schedule/add/", form)

    assert response.status_code == 302
    schedule = Schedule.objects.get(name="nightly")
    assert (schedule.func, schedule.schedule_type) == ("returns_mail.tasks.sweep_messages", "D")


def test_an_it_admin_cannot_add_or_change_a_schedule():
    client = Client()
    client.force_login(factories.it_admin())
    sweep = Schedule.objects.create(func="returns_mail.tasks.sweep_messages", name="sweep")

    added = client.post("/admin/django_q/schedule/add/", _schedule_form("os.system"))
    changed = client.post(
        f"/admin/django_q/schedule/{sweep.pk}/change/", _schedule_form("os.system")
    )
    page = client.get(f"/admin/django_q/schedule/{sweep.pk}/change/")

    assert added.status_code == 403
    assert changed.status_code == 403
    assert page.status_code == 200  # read-only view
    assert 'name="func"' not in page.content.decode()
    assert not Schedule.objects.filter(func="os.system").exists()
    sweep.refresh_from_db()
    assert sweep.func == "returns_mail.tasks.sweep_messages"


def test_an_it_admin_deletes_a_failed_task_but_cannot_resubmit_it():
    client = Client()
    client.force_login(factories.it_admin())
    failure = Failure.objects.create(
        id="f" * 32,
        name="one",
        func="returns_mail.tasks.sweep_messages",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )

    resubmit = client.post(
        "/admin/django_q/failure/",
        {"action": "_resubmit", "_selected_action": [failure.pk]},
    )
    assert resubmit.status_code == 302  # back to the list: no such action for this user
    assert "_resubmit" not in client.get("/admin/django_q/failure/").content.decode()
    assert Failure.objects.count() == 1

    deleted = client.post(f"/admin/django_q/failure/{failure.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Failure.objects.exists()
