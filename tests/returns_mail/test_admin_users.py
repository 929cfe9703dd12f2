"""IT admins manage staff logins within the roles: no one becomes superuser through them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.analytics import factories as f

pytestmark = pytest.mark.django_db


def test_an_it_admin_cannot_make_anyone_superuser_or_grant_single_permissions(client):
    admin = f.it_admin()
    client.force_login(admin)
    url = reverse("admin:auth_user_change", args=[admin.pk])
    page = client.get(url).content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page

    form = {
        "username": admin.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [g.pk for g in admin.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[-2000:]
    admin.refresh_from_db()
    assert not admin.is_superuser


def test_an_it_admin_cannot_change_a_superuser_or_its_password(client):
    root = get_user_model().objects.create_superuser("root", password="root-pass-0001")
    client.force_login(f.it_admin())

    assert client.get(reverse("admin:auth_user_change", args=[root.pk])).status_code in (200, 403)
    response = client.post(
        reverse("admin:auth_user_change", args=[root.pk]),
        {"username": "taken-over", "is_active": "on"},
    )
    assert response.status_code == 403
    password = reverse("admin:auth_user_password_change", args=[root.pk])
    assert client.get(password).status_code == 403
    assert (
        client.post(password, {"password1": "x-9f8e7d", "password2": "x-9f8e7d"}).status_code == 403
    )
    root.refresh_from_db()
    assert root.username == "root"
    assert root.check_password("root-pass-0001")


def test_a_superuser_still_manages_everything(admin_client):
    user = get_user_model().objects.create_user("someone", password="pw-0001-xyz")
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert 'name="is_superuser"' in page
