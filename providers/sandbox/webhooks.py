"""Posting webhook events back to the app, later and in the background, like a provider."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class WebhookTarget:
    """Where and how the sandbox posts one account's events."""

    url: str
    secret: str = ""  # Mandrill: the webhook key that signs posts
    delay: float = 0.5  # seconds between acceptance and the first event
    # provider event name -> probability it happens to an accepted message (0..1).
    rates: dict[str, float] = field(default_factory=dict)


@dataclass
class WebhookPost:
    url: str
    body: bytes
    headers: dict[str, str]


class WebhookDispatcher:
    """A timer thread posting `WebhookPost`s when due; remembers each outcome."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        self.log: list[dict] = []
        self._queue: list[tuple[float, int, WebhookPost]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="esp-sandbox-webhooks", daemon=True)
        self._thread.start()

    def post_later(self, delay: float, post: WebhookPost) -> None:
        with self._wake:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._counter), post))
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def clear(self) -> None:
        with self._wake:
            self._queue.clear()
            self.log.clear()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, post = heapq.heappop(self._queue)
            self._deliver(post)

    def _deliver(self, post: WebhookPost) -> None:
        request = urllib.request.Request(post.url, data=post.body, headers=post.headers)  # noqa: S310
        outcome = {"url": post.url, "status": None, "error": ""}
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                outcome["status"] = response.status
        except urllib.error.HTTPError as exc:
            outcome["status"] = exc.code
        except OSError as exc:
            outcome["error"] = str(exc)
            logger.warning("sandbox webhook to %s failed: %s", post.url, exc)
        with self._wake:
            self.log.append(outcome)
