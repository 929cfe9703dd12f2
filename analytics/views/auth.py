"""Access to the dashboards: the permission every page needs, and the managers' own login and
logout pages (they have no admin access)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.urls import reverse_lazy

PERMISSION = "analytics.view_dashboards"
LOGIN_URL = reverse_lazy("analytics:login")


def dashboard(view):
    """Login required (redirect), then the dashboards permission (403)."""
    return login_required(
        permission_required(PERMISSION, raise_exception=True)(view), login_url=LOGIN_URL
    )


# --- Login for managers (they have no admin access) ----------------------------------------------

login = auth_views.LoginView.as_view(
    template_name="analytics/login.html",
    next_page=reverse_lazy("analytics:overview"),
    redirect_authenticated_user=True,
)
logout = auth_views.LogoutView.as_view(next_page=reverse_lazy("analytics:login"))
