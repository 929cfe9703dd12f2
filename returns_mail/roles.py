"""The two staff roles and what each may do.

IT admins configure everything (accounts, rules, templates, thresholds) and manage staff logins;
Managers only read the analytics pages. Every model a later migration adds to one of the
IT_ADMIN_APPS is granted automatically by `roles_sync`.

No role may write a model that names code to run (`runs_code`): whoever can write a task-queue
schedule or task can run any Python function on the workers. Those stay with superusers, and
`roles_sync` takes such permissions away from the roles even when granted by hand.
"""

from __future__ import annotations

IT_ADMINS = "IT admins"
MANAGERS = "Managers"

IT_ADMIN_APPS = ("providers", "templates_lib", "returns_mail", "analytics")

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    IT_ADMINS: {
        "apps": IT_ADMIN_APPS,
        "permissions": (
            *("auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group"),
            # Login lockouts (django-axes): see who was locked out, and lift a lockout.
            *("axes.view_accessattempt", "axes.delete_accessattempt"),
            *("axes.view_accesslog", "axes.view_accessfailurelog"),
            # The task queue, read-only: schedules, queued tasks, results; failed ones may go.
            *("django_q.view_schedule", "django_q.view_ormq", "django_q.view_success"),
            *("django_q.view_failure", "django_q.delete_failure"),
        ),
    },
    MANAGERS: {
        "apps": (),
        "permissions": ("analytics.view_dashboards",),
    },
}

# Fields that hold a dotted path the task cluster imports and calls (django-q2's `func` and
# `hook`), and models whose content is a whole task, function included (the ORM broker's queue).
CODE_PATH_FIELDS = ("func", "hook")
CODE_MODELS = ("django_q.ormq",)
# Permissions that write a row.
WRITE_ACTIONS = ("add", "change")


def runs_code(model) -> bool:
    """Whether writing a row of `model` can choose code for the workers to run."""
    if model._meta.label_lower in CODE_MODELS:
        return True
    return any(field.name in CODE_PATH_FIELDS for field in model._meta.concrete_fields)


def is_it_admin(user) -> bool:
    """A signed-in, active superuser or member of the IT admins group."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name=IT_ADMINS).exists()
