"""`python -m bench dashboard [--scale F]`: with 1,000,000 stored delivery events (1,000,000 x F;
a month of two accounts, `bench.seed_dashboard`, with a health check a minute, or one every
1/F minutes), the server time of the managers' overview page: p50/p95 over 30 sequential loads
by a logged-in manager, after one warm-up load."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench.figures import STACK, Tiny
from bench.harness import PROJECT_DIR, Stack
from bench.load import percentile

EVENTS = 1_000_000
LOADS = 30
PAGE = "/analytics/"

FIGURES = {
    "page": str,
    "delivery_events": int,
    "rollup_rows": int,
    "loads": int,
    "errors": int,
    "p50_ms": float,
    "p95_ms": float,
    "seed_seconds": float,
    **STACK,
}
TINY = Tiny(
    options=("--scale", "0.002"), expect={"delivery_events": 2000, "loads": LOADS, "errors": 0}
)


def run(scale: float = 1.0) -> dict:
    events = max(1, round(EVENTS * scale))
    check_every = max(1, round(1 / scale))  # minutes between stored health checks
    with Stack(start_worker=False) as stack:
        started = time.perf_counter()
        seeded = subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "bench.seed_dashboard", str(events), str(check_every)],
            cwd=PROJECT_DIR,
            env=stack.env,
            check=True,
            capture_output=True,
            text=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        seed_seconds = time.perf_counter() - started
        parts = urlsplit(stack.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        headers = {"Cookie": f"sessionid={seed['session']}"}
        timings, statuses = [], []
        for _ in range(LOADS + 1):
            began = time.perf_counter()
            conn.request("GET", PAGE, headers=headers)
            response = conn.getresponse()
            response.read()
            timings.append(time.perf_counter() - began)
            statuses.append(response.status)
        timings = timings[1:]  # the first load warms the worker's caches
        return {
            "page": PAGE,
            "delivery_events": seed["delivery_events"],
            "rollup_rows": seed["rollups"],
            "loads": LOADS,
            "errors": sum(1 for status in statuses if status != 200),
            "p50_ms": round(percentile(timings, 50) * 1000, 1),
            "p95_ms": round(percentile(timings, 95) * 1000, 1),
            "seed_seconds": round(seed_seconds, 1),
            **stack.describe(),
        }
