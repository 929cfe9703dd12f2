"""`python -m bench dashboard`: with 1,000,000 stored delivery events (a month of two accounts,
`bench.seed_dashboard`), the server time of the managers' overview page: p50/p95 over 30
sequential loads by a logged-in manager, after one warm-up load."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench.harness import PROJECT_DIR, Stack
from bench.load import percentile

EVENTS = 1_000_000
LOADS = 30
PAGE = "/analytics/"


def run(duration: float = 0.0) -> dict:
    with Stack(start_worker=False) as stack:
        started = time.perf_counter()
        seeded = subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "bench.seed_dashboard", str(EVENTS)],
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
