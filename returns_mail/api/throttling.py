"""Per-client rate limit (`ApiClient.rate_limit_per_minute`) in Django's cache (Redis when
REDIS_URL is set, so every web process shares the count; local memory otherwise).

A fixed one-minute window counted with add + incr (atomic in Redis), instead of
SimpleRateThrottle's list of timestamps: that list is read and rewritten whole on every request,
which at thousands of requests a minute costs more than the request, and loses counts between
concurrent requests. A burst of up to twice the limit across a window boundary is allowed.
"""

from __future__ import annotations

import logging
import math

from rest_framework.throttling import SimpleRateThrottle

from returns_mail.models import ApiClient

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class ClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"

    def __init__(self):
        # The rate is the client's own, known only in allow_request: no THROTTLE_RATES entry.
        self.num_requests, self.duration = None, WINDOW_SECONDS
        self.window_ends_at = 0.0
        self.now = 0.0

    def get_cache_key(self, request, view) -> str | None:
        client = request.user
        if not isinstance(client, ApiClient):
            return None
        return f"throttle:api-client:{client.pk}"

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.num_requests = request.user.rate_limit_per_minute
        self.now = self.timer()
        window = int(self.now // WINDOW_SECONDS)
        self.window_ends_at = (window + 1) * WINDOW_SECONDS
        slot = f"{key}:{window}"
        try:
            self.cache.add(slot, 0, timeout=WINDOW_SECONDS * 2)
            try:
                count = self.cache.incr(slot)
            except ValueError:  # evicted between add and incr
                self.cache.set(slot, 1, timeout=WINDOW_SECONDS * 2)
                count = 1
        except Exception:
            # An unreachable cache must not take the API down with it: fail open, loudly.
            logger.exception("rate limit not checked: the cache failed")
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1, math.ceil(self.window_ends_at - self.now))
