"""Keeping the role groups and their permissions in place."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.db.models import Q

from returns_mail.roles import ROLE_PERMISSIONS


def roles_sync(*, apps=global_apps, using: str = "default") -> None:
    """Create the role groups and grant each the permissions its policy names.

    Add-only: permissions an admin granted by hand are kept. Runs after every migrate, because
    Django creates the permissions of new models only then (a data migration cannot see them).
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, policy in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        wanted = Q(content_type__app_label__in=policy["apps"])
        for dotted in policy["permissions"]:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        permissions = Permission.objects.using(using).filter(wanted)
        group.permissions.add(*permissions)
