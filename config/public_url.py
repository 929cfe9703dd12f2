"""Absolute URLs of this site, for where a relative one means nothing (links in emails), from
the configured public base (``PUBLIC_BASE_URL``), and the system checks of that setting."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning


def absolute_url(path: str) -> str | None:
    """``path`` (from ``reverse``) on the public base; None when no base is configured."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else None


def base_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL"
    if parts.query or parts.fragment:
        return "has a query or a fragment: only scheme, host, port and an optional path prefix"
    return None


def public_base_url_check(app_configs, **kwargs):
    """config.W001: PUBLIC_BASE_URL unset in production; config.E001: a value that is no URL."""
    url = settings.PUBLIC_BASE_URL
    example = "e.g. PUBLIC_BASE_URL=https://returns-mail.example.com"
    if not url:
        if settings.DEBUG:
            return []
        return [
            Warning(
                "PUBLIC_BASE_URL is not set: alert emails carry no link to the admin and the "
                "admin shows no webhook URLs to give the providers.",
                hint=f"Set it to this site's public address ({example}).",
                id="config.W001",
            )
        ]
    if problem := base_url_problem(url):
        return [
            Error(
                f"PUBLIC_BASE_URL {url!r} {problem}.",
                hint=f"Set it to this site's public address ({example}).",
                id="config.E001",
            )
        ]
    return []
