"""Load generation over keep-alive HTTP connections, one per thread (stdlib only)."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def event_body(run: str, n: int) -> dict:
    return {
        "event_id": f"{run}-{n}",
        "type": "refund.processed",
        "occurred_at": "2026-11-26T10:15:00+00:00",
        "return_id": f"RMA-{run}-{n}",
        "order_id": f"ORD-{n}",
        "customer": {"email": f"customer{n}@example.com", "name": "Ada Lovelace", "locale": "en"},
        "data": {
            "items": [{"sku": "TS-RED-M", "name": "T-shirt", "quantity": 1, "reason": "Too small"}],
            "refund": {"amount": "29.90", "currency": "EUR", "method": "Visa ending 4242"},
        },
    }


class Poster:
    """A keep-alive connection posting JSON with the bench token."""

    def __init__(self, base_url: str, token: str):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, payload) -> int:
        body = json.dumps(payload)
        try:
            self.connection.request("POST", path, body=body, headers=self.headers)
            response = self.connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            return 0


def saturate(
    base_url: str,
    token: str,
    *,
    path: str,
    make_payload: Callable[[int], object],
    events_per_request: int,
    threads: int,
    duration: float,
) -> dict:
    """As many requests as `threads` closed-loop clients can make in `duration` seconds."""
    counter = iter(range(10**9))
    lock = threading.Lock()
    results: list[tuple[int, float]] = []
    stop_at = time.perf_counter() + duration

    def client():
        poster = Poster(base_url, token)
        local = []
        while time.perf_counter() < stop_at:
            with lock:
                n = next(counter)
            started = time.perf_counter()
            status = poster.post(path, make_payload(n))
            local.append((status, time.perf_counter() - started))
        with lock:
            results.extend(local)

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    ok = [latency for status, latency in results if status in (200, 202)]
    return {
        "requests": len(results),
        "errors": len(results) - len(ok),
        "events_per_s": round(len(ok) * events_per_request / elapsed, 1),
        "p50_ms": round(percentile(ok, 50) * 1000, 1),
        "p99_ms": round(percentile(ok, 99) * 1000, 1),
    }


def open_loop(
    base_url: str, token: str, *, rate: float, duration: float, threads: int, run: str
) -> dict:
    """Offer `rate` events/s on a fixed schedule; latency counts from the scheduled time, so a
    stalled server cannot hide its queueing (no coordinated omission)."""
    total = int(rate * duration)
    start = time.perf_counter() + 0.2
    lock = threading.Lock()
    counter = iter(range(total))
    latencies: list[float] = []
    errors = [0]

    def client():
        poster = Poster(base_url, token)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status = poster.post("/api/v1/events", event_body(run, n))
            finished = time.perf_counter()
            with lock:
                if status == 202:
                    latencies.append(finished - due)
                else:
                    errors[0] += 1

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {
        "offered_events_per_s": rate,
        "events": total,
        "errors": errors[0],
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def run_id() -> str:
    return uuid.uuid4().hex[:8]
