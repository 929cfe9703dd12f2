"""Scopes: each view names the scope each HTTP method needs (`required_scopes`)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission

from returns_mail.api.exceptions import ApiError
from returns_mail.models import ApiClient


def required_scope(view, method: str) -> str | None:
    """The scope `method` needs on `view`; None: the view offers no such method. HEAD is a GET
    without the body, but the status and headers tell as much: it needs GET's scope."""
    return view.required_scopes.get("GET" if method == "HEAD" else method)


def declared_methods(view) -> list[str]:
    """The methods `view` answers: those it names a scope for (and HEAD with GET)."""
    methods = list(view.required_scopes)
    return [*methods, "HEAD"] if "GET" in methods else methods


class HasScope(BasePermission):
    """An authenticated ApiClient holding the scope the view requires for the method.
    Unauthenticated: False, so DRF answers 401 with WWW-Authenticate.

    Fails closed: a method without a declared scope is 405 (OPTIONS too, and a handler someone
    adds without naming its scope), never let through unchecked."""

    def has_permission(self, request, view) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return False
        scope = required_scope(view, request.method)
        if scope is None:
            raise MethodNotAllowed(request.method)
        if client.has_scope(scope):
            return True
        raise ApiError(
            status_code=status.HTTP_403_FORBIDDEN,
            code="insufficient_scope",
            message=f'This token lacks the scope "{scope}".',
            required_scope=scope,
        )
