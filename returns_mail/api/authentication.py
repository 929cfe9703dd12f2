"""`Authorization: Bearer <token>`: the token's SHA-256 digest names an active ApiClient, which
becomes `request.user`. The token itself is never stored on the request, logged or echoed."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from returns_mail.models import ApiClient
from returns_mail.services.api_clients import api_client_authenticate

# `last_used_at` is written at most this often per client: one UPDATE a minute, not per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        _mark_used(client)
        return client, None

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def _mark_used(client: ApiClient) -> None:
    """Record use cheaply: skip while the loaded value is recent; the conditional UPDATE makes
    concurrent requests at the turn of the minute write once between them."""
    now = timezone.now()
    cutoff = now - LAST_USED_RESOLUTION
    if client.last_used_at is not None and client.last_used_at > cutoff:
        return
    ApiClient.objects.filter(pk=client.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff)
    ).update(last_used_at=now)
    client.last_used_at = now


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
