"""Demo data of this app, loaded by `manage.py demo`: the staff logins for each role."""

from __future__ import annotations

import secrets
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.env import dev_secret
from returns_mail.roles import IT_ADMINS, MANAGERS

DEMO_LOGINS = (
    # username, role, may use the admin
    ("itadmin", IT_ADMINS, True),
    ("manager", MANAGERS, False),
)


def seed(*, out: TextIO) -> None:
    User = get_user_model()
    for username, role, is_staff in DEMO_LOGINS:
        password = dev_secret(f"DEMO_{username.upper()}_PASSWORD", lambda: secrets.token_urlsafe(9))
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": is_staff}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        note = "" if user.check_password(password) else "  (password changed since; yours applies)"
        out.write(f"{role} login: {username} / {password}{note}\n")
