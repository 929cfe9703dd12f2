"""Per-client rate limit (`ApiClient.rate_limit_per_minute`), shared by every web process
through Redis when REDIS_URL is set (counted per process otherwise).

A fixed one-minute window: one counter per client and minute, incremented and given its expiry
in one pipelined round trip. SimpleRateThrottle's list of timestamps is read and rewritten whole
on every request, which at thousands of requests a minute costs more than the request and loses
counts between concurrent requests; Django's cache `incr` is two round trips (EXISTS, INCRBY)
and builds a new Redis client each call. A burst of up to twice the limit across a window
boundary is allowed.
"""

from __future__ import annotations

import logging
import math
import threading

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from returns_mail.models import ApiClient

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60

_clients_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def _shared_redis(url: str) -> redis.Redis:
    """One client (one connection pool, which redis-py renews after a fork) per process."""
    with _clients_lock:
        if url not in _clients:
            # Bounded waits: a blackholed Redis must not hang API requests.
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return _clients[url]


def window_count(slot: str) -> int:
    """Add one to the counter `slot` (a client's current window) and return its value."""
    key = cache.make_key(f"throttle:{slot}")  # under the cache's key prefix
    if settings.REDIS_URL:
        pipe = _shared_redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count, _ = pipe.execute()
        return count
    slot = f"throttle:{slot}"
    cache.add(slot, 0, timeout=WINDOW_SECONDS * 2)
    try:
        return cache.incr(slot)
    except ValueError:  # evicted between add and incr
        cache.set(slot, 1, timeout=WINDOW_SECONDS * 2)
        return 1


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
        return f"api-client:{client.pk}"

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.num_requests = request.user.rate_limit_per_minute
        self.now = self.timer()
        window = int(self.now // WINDOW_SECONDS)
        self.window_ends_at = (window + 1) * WINDOW_SECONDS
        try:
            count = window_count(f"{key}:{window}")
        except Exception:
            # An unreachable Redis must not take the API down with it: fail open, loudly.
            logger.exception("rate limit not checked: the counter store failed")
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1, math.ceil(self.window_ends_at - self.now))
