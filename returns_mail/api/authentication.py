"""`Authorization: Bearer <token>`: the token's SHA-256 digest names an active ApiClient, which
becomes `request.user`. The token itself is never stored on the request, logged or echoed."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from returns_mail.services.api_clients import api_client_authenticate, api_client_touch


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # IsAuthenticated answers 401 "credentials were not provided"
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                'Use "Authorization: Bearer <token>".', code="authentication_failed"
            )
        if not token or any(ch.isspace() for ch in token):
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        client = api_client_authenticate(token)
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid token, or its client is inactive.")
        api_client_touch(client=client)
        return client, None

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes BearerTokenAuthentication."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token (`rm_...`), created in the admin or with "
            "`manage.py api_client create`. Scopes: `events:write` for POSTs, "
            "`messages:read` for GETs.",
        }
