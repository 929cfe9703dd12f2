"""Scopes: each view names the scope each HTTP method needs (`required_scopes`)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.permissions import BasePermission

from returns_mail.api.exceptions import ApiError
from returns_mail.models import ApiClient


class HasScope(BasePermission):
    """An authenticated ApiClient holding the scope the view requires for the method.
    Unauthenticated: False, so DRF answers 401 with WWW-Authenticate."""

    def has_permission(self, request, view) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return False
        scope = view.required_scopes.get(request.method)
        if scope is None or client.has_scope(scope):
            return True  # a method without a scope is answered 405 by the view
        raise ApiError(
            status_code=status.HTTP_403_FORBIDDEN,
            code="insufficient_scope",
            message=f'This token lacks the scope "{scope}".',
            required_scope=scope,
        )
