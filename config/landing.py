"""The site root: where each kind of user goes (the admin, the dashboards, the API docs), and
the favicon browsers ask every site for."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

# The dashboards' permission (the Managers role has it), by name: config imports no app.
DASHBOARDS_PERMISSION = "analytics.view_dashboards"


@require_safe
def landing(request):
    user = request.user
    # Staff with something to do in the admin (a Manager given staff by mistake sees an empty
    # admin: the dashboards stay that user's place). IT admins may read the dashboards too, but
    # their place is the admin.
    admin_permissions = user.get_all_permissions() - {DASHBOARDS_PERMISSION}
    is_it_admin = user.is_active and user.is_staff and bool(admin_permissions)
    is_manager = not is_it_admin and user.has_perm(DASHBOARDS_PERMISSION)
    return render(request, "landing.html", {"is_it_admin": is_it_admin, "is_manager": is_manager})


@cache
def _favicon() -> bytes:
    return (settings.BASE_DIR / "static" / "favicon.ico").read_bytes()


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    return HttpResponse(_favicon(), content_type="image/x-icon")
