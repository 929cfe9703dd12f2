"""The OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/), included by config/urls.py.

They describe every endpoint, field and error of the API, so they are not public by default:
a signed-in IT admin (the admin's session) or an API client (its bearer token, any scope) may
read them. API_DOCS_PUBLIC = True opens them to everyone.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from returns_mail.api.authentication import BearerTokenAuthentication
from returns_mail.models import ApiClient
from returns_mail.roles import is_it_admin


class DocsAccess(BasePermission):
    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        return isinstance(request.user, ApiClient) or is_it_admin(request.user)


class _DocsAccessMixin:
    # The bearer scheme first: without credentials the answer is 401 with its WWW-Authenticate.
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [DocsAccess]


class SchemaView(_DocsAccessMixin, SpectacularAPIView):
    pass


class DocsView(_DocsAccessMixin, SpectacularSwaggerSplitView):
    """Swagger UI, which fetches the schema with the same session (same origin)."""

    def handle_exception(self, exc):
        # A browser without a session (nor a token) is sent to the admin's login page.
        if isinstance(exc, NotAuthenticated) and "Authorization" not in self.request.headers:
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
