"""`python -m bench latency`: event accepted -> provider accepted, p50/p95/p99, at an offered
50 events/s, with the default worker count."""

from __future__ import annotations

import json
import sys
import time

from bench.harness import Stack
from bench.load import open_loop, percentile, run_id


def _query(stack: Stack, what: str):
    import subprocess

    from bench.harness import PROJECT_DIR

    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.query", what],
        cwd=PROJECT_DIR,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(duration: float = 30.0) -> dict:
    with Stack() as stack:
        offered = open_loop(
            stack.base_url, stack.token, rate=50, duration=duration, threads=8, run=run_id()
        )
        print("offered", offered, flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = _query(stack, "statuses")
            if set(statuses) <= {"sent", "failed", "ambiguous"}:
                break
            time.sleep(1)
        latencies = _query(stack, "latencies")
        return {
            "events": offered["events"],
            "sent": statuses.get("sent", 0),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            **stack.describe(),
        }
