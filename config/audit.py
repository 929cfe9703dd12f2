"""The audit trail: who changed what, and when, in one table — Django's admin `LogEntry`.

Why `LogEntry` and not a model of our own: the admin already writes one for every add, change
and delete made through it (with the names of the changed fields, never their values), and
each object's *History* page reads it. Actions that go through services instead of a model
form — rotating a token, publishing a template, the campaign buttons, erasing a customer —
write theirs here with `audit_record`, so one list (admin *Audit trail*) shows everything.

It lives in `config/` because every app records into it, including the lowest ones
(`templates_lib` publishes), and a lower app never imports a higher one.

Messages name fields and actions, never secret values or tokens.
"""

from __future__ import annotations

import logging

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

logger = logging.getLogger(__name__)

ACTION_FLAGS = {"add": ADDITION, "change": CHANGE, "delete": DELETION}


def audit_record(
    *, actor, obj: models.Model, action: str, message: str, object_repr: str = ""
) -> LogEntry | None:
    """Record that `actor` did `action` ("add", "change" or "delete") to `obj`.

    `message` is shown as is: say what happened ("rotated the token", "api_key changed"),
    never a value that must stay secret. Without a signed-in user (the system, a schedule)
    nothing is recorded: the trail answers "which person did this". `object_repr` replaces
    `str(obj)` where that would name a person (an erased customer)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        logger.debug("not audited (no user): %s %s %s", action, obj._meta.label, obj.pk)
        return None
    return LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=None if obj.pk is None else str(obj.pk),
        object_repr=(object_repr or str(obj))[:200],
        action_flag=ACTION_FLAGS[action],
        change_message=message,
    )
