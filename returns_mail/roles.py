"""The two staff roles and what each may do.

IT admins configure everything (accounts, rules, templates, thresholds, the task queue) and
manage staff logins; Managers only read the analytics pages. Every model a later migration adds
to one of the IT_ADMIN_APPS is granted automatically by `roles_sync`.
"""

IT_ADMINS = "IT admins"
MANAGERS = "Managers"

IT_ADMIN_APPS = ("providers", "templates_lib", "returns_mail", "analytics", "django_q")

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    IT_ADMINS: {
        "apps": IT_ADMIN_APPS,
        "permissions": (
            *("auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group"),
            # Login lockouts (django-axes): see who was locked out, and lift a lockout.
            *("axes.view_accessattempt", "axes.delete_accessattempt"),
            *("axes.view_accesslog", "axes.view_accessfailurelog"),
        ),
    },
    MANAGERS: {
        "apps": (),
        "permissions": ("analytics.view_dashboards",),
    },
}


def is_it_admin(user) -> bool:
    """A signed-in, active superuser or member of the IT admins group."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name=IT_ADMINS).exists()
