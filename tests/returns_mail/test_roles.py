from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.roles import roles_sync

pytestmark = pytest.mark.django_db


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_migrate_creates_both_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {IT_ADMINS, MANAGERS}


def test_managers_see_dashboards_and_nothing_else():
    assert codenames(MANAGERS) == {"analytics.view_dashboards"}


def test_it_admins_configure_every_app_and_manage_staff():
    granted = codenames(IT_ADMINS)

    app_models = Permission.objects.filter(
        content_type__app_label__in=["providers", "templates_lib", "returns_mail", "analytics"]
    )
    assert {f"{p.content_type.app_label}.{p.codename}" for p in app_models} <= granted
    assert "analytics.view_dashboards" in granted
    assert {"auth.add_user", "auth.change_user", "django_q.view_failure"} <= granted
    assert "auth.delete_user" not in granted


def test_sync_is_idempotent_and_keeps_hand_granted_permissions():
    managers = Group.objects.get(name=MANAGERS)
    extra = Permission.objects.get(codename="view_user")
    managers.permissions.add(extra)

    roles_sync()
    roles_sync()

    assert Group.objects.filter(name=MANAGERS).count() == 1
    assert codenames(MANAGERS) == {"analytics.view_dashboards", "auth.view_user"}


def test_it_admins_read_the_task_queue_and_delete_failed_tasks_only():
    granted = {p for p in codenames(IT_ADMINS) if p.startswith("django_q.")}

    assert granted == {
        "django_q.view_schedule",
        "django_q.view_ormq",
        "django_q.view_success",
        "django_q.view_failure",
        "django_q.delete_failure",
    }


def test_sync_takes_away_hand_granted_permissions_to_write_code_paths():
    it_admins = Group.objects.get(name=IT_ADMINS)
    it_admins.permissions.add(
        *Permission.objects.filter(codename__in=["add_schedule", "change_task", "change_ormq"])
    )

    roles_sync()

    assert not {"django_q.add_schedule", "django_q.change_task", "django_q.change_ormq"} & (
        codenames(IT_ADMINS)
    )
