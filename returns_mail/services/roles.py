"""Keeping the role groups and their permissions in place."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.db.models import Q

from returns_mail.roles import ROLE_PERMISSIONS, WRITE_ACTIONS, runs_code


def roles_sync(*, apps=global_apps, using: str = "default") -> None:
    """Create the role groups and grant each the permissions its policy names.

    Add-only, but for writing models that name code to run: permissions an admin granted by
    hand are kept, those are taken away. Runs after every migrate, because Django creates the
    permissions of new models only then (a data migration cannot see them).
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    code_writes = _code_writes()
    forbidden = list(Permission.objects.using(using).filter(code_writes))
    for group_name, policy in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        wanted = Q(content_type__app_label__in=policy["apps"])
        for dotted in policy["permissions"]:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        permissions = Permission.objects.using(using).filter(wanted).exclude(code_writes)
        group.permissions.add(*permissions)
        group.permissions.remove(*forbidden)


def _code_writes() -> Q:
    """The add/change permissions of every model that names code to run."""
    condition = Q(pk__in=[])
    for model in global_apps.get_models():
        if runs_code(model):
            meta = model._meta
            codenames = [f"{action}_{meta.model_name}" for action in WRITE_ACTIONS]
            condition |= Q(content_type__app_label=meta.app_label, codename__in=codenames)
    return condition
