"""`python -m bench webhooks [--scale F]`: signed SendGrid Event Webhook batches totalling
100,000 events (100,000 x F; 3,000 a batch, as SendGrid sends them) posted by 4 concurrent
connections; events/s from the first post to the last answer. The events follow 25,000 sent
messages: processed, delivered, open and click each, so statuses, rollups and latencies are all
exercised."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

from bench.figures import STACK, Tiny
from bench.harness import PROJECT_DIR, Stack
from bench.load import percentile
from providers.sandbox.sendgrid_events import new_signing_key, public_key_text, signed_headers

MESSAGES = 25_000
BATCH = 3_000
CONNECTIONS = 4
STEPS = (("processed", 1), ("delivered", 5), ("open", 60), ("click", 90))  # (event, seconds)

FIGURES = {
    "events": int,
    "events_stored": int,
    "batches": int,
    "errors": int,
    "seconds": float,
    "events_per_s": float,
    "batch_p50_ms": float,
    "batch_p95_ms": float,
    **STACK,
}
# 250 messages: 1,000 events in one batch, all stored.
TINY = Tiny(
    options=("--scale", "0.01"),
    expect={"events": 1000, "events_stored": 1000, "batches": 1, "errors": 0},
)


def _bodies(messages: list, started: int) -> list[bytes]:
    events = [
        {
            "email": email,
            "timestamp": started + offset,
            "event": name,
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": f"bench-{correlation}.filter0001",
            "rm_correlation_id": correlation,
            **({"url": "https://shop.example/returns"} if name == "click" else {}),
        }
        for name, offset in STEPS
        for correlation, email in messages
    ]
    return [
        json.dumps(events[i : i + BATCH], separators=(",", ":")).encode()
        for i in range(0, len(events), BATCH)
    ]


def run(scale: float = 1.0) -> dict:
    messages = max(1, round(MESSAGES * scale))
    key = new_signing_key()
    with Stack(start_worker=False) as stack:
        seeded = subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "bench.seed_messages", str(messages), public_key_text(key)],
            cwd=PROJECT_DIR,
            env=stack.env,
            check=True,
            capture_output=True,
            text=True,
        )
        setup = json.loads(seeded.stdout.strip().splitlines()[-1])
        bodies = _bodies(setup["messages"], int(time.time()) - 600)
        posts = [(body, signed_headers(key, body)) for body in bodies]
        path = f"/webhooks/sendgrid/{setup['account']}/"
        results: list[tuple[int, float, int]] = []
        lock = threading.Lock()
        queue = iter(posts)
        parts = urlsplit(stack.base_url)

        def connection_loop():
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                body, headers = item
                started = time.perf_counter()
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                new = json.loads(answer).get("new", 0) if response.status == 200 else 0
                with lock:
                    results.append((response.status, time.perf_counter() - started, new))

        started = time.perf_counter()
        threads = [threading.Thread(target=connection_loop) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        total = sum(len(json.loads(body)) for body in bodies)
        stored = sum(new for _, _, new in results)
        return {
            "events": total,
            "events_stored": stored,
            "batches": len(bodies),
            "errors": sum(1 for status, _, _ in results if status != 200),
            "seconds": round(elapsed, 2),
            "events_per_s": round(total / elapsed, 1),
            "batch_p50_ms": round(percentile([s for _, s, _ in results], 50) * 1000, 1),
            "batch_p95_ms": round(percentile([s for _, s, _ in results], 95) * 1000, 1),
            **stack.describe(),
        }
