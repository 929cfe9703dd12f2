"""`python -m bench latency`: event accepted -> provider accepted, p50/p95/p99, at an offered
50 events/s, with the default worker count."""

from __future__ import annotations

import time

from bench.figures import STACK, Tiny
from bench.harness import Stack
from bench.load import open_loop, percentile, run_id

FIGURES = {
    "events": int,
    "sent": int,
    "p50_ms": float,
    "p95_ms": float,
    "p99_ms": float,
    **STACK,
}
TINY = Tiny(options=("--duration", "1"), expect={"events": 50, "sent": 50})


def run(duration: float = 30.0) -> dict:
    with Stack() as stack:
        offered = open_loop(
            stack.base_url, stack.token, rate=50, duration=duration, threads=8, run=run_id()
        )
        print("offered", offered, flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = stack.ask("bench.query", "statuses")
            if set(statuses) <= {"sent", "failed", "ambiguous"}:
                break
            time.sleep(1)
        latencies = stack.ask("bench.query", "latencies")
        return {
            "events": offered["events"],
            "sent": statuses.get("sent", 0),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            **stack.describe(),
        }
