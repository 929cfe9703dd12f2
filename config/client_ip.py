"""The client's IP address as the outermost trusted proxy saw it.

Behind reverse proxies REMOTE_ADDR is the nearest proxy's address, so every client would share
it (one user's failed logins would lock the name out for everyone). Each proxy appends the
address it received the request from to X-Forwarded-For; anything further left was written by
the client and can be forged. With TRUSTED_PROXY_COUNT = N proxies in front of the app, the
client is the N-th entry from the right. No header (or too few entries: a request that did
not come through every proxy) falls back to REMOTE_ADDR, never to a client-written entry.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that writes something else: do not trust the header
        return remote
