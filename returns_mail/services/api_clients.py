"""API clients: tokens are shown once, stored only as digests, and can be rotated."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from config.audit import audit_record
from returns_mail.models import ApiClient
from returns_mail.models.api_clients import SCOPES, token_digest
from returns_mail.services import config_cache

TOKEN_PREFIX = "rm_"  # noqa: S105 - a public marker, not a secret


# `last_used_at` is written at most this often per client: one UPDATE a minute, not per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_client_create(
    *, name: str, scopes: list[str], rate_limit_per_minute: int = 6000, token: str = ""
) -> tuple[ApiClient, str]:
    """Create a client; returns it with its token, which is never available again.

    `token` is for the demo only (a token it can print again); otherwise one is generated."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    token = token or new_token()
    client = ApiClient.objects.create(
        name=name,
        scopes=list(scopes),
        rate_limit_per_minute=rate_limit_per_minute,
        token_digest=token_digest(token),
        token_prefix=token[:10],
    )
    return client, token


def api_client_rotate(*, client: ApiClient, actor=None) -> str:
    """Replace the client's token (the old one stops working at once); returns the new one."""
    token = new_token()
    ApiClient.objects.filter(pk=client.pk).update(
        token_digest=token_digest(token), token_prefix=token[:10], token_rotated_at=timezone.now()
    )
    config_cache.clear()  # an update() sends no post_save
    client.refresh_from_db()
    audit_record(actor=actor, obj=client, action="change", message="rotated the token")
    return token


def api_client_authenticate(token: str) -> ApiClient | None:
    """The active client owning `token`, or None. Found clients are cached (config_cache);
    unknown tokens are not, so random ones cannot fill the cache."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = token_digest(token)
    return config_cache.cached(
        f"api-client:{digest}",
        lambda: ApiClient.objects.filter(token_digest=digest, is_active=True).first(),
        keep_none=False,
    )


def api_client_touch(*, client: ApiClient) -> None:
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
