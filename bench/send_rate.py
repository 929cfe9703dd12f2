"""`python -m bench send_rate [--duration S] [--scale F]`: sends handed to the provider per
second by one `qcluster` with the default worker count, draining a backlog of queued messages:
what two posters of 100-event batches (100 x F) queue in 2 s (S s) with no worker running."""

from __future__ import annotations

import time

from bench.figures import STACK, Tiny
from bench.harness import Stack
from bench.load import event_body, run_id, saturate

BATCH = 100

FIGURES = {"backlog": int, "sent": int, "sends_per_s": float, **STACK}
TINY = Tiny(options=("--duration", "0.5", "--scale", "0.05"))


def run(duration: float = 2.0, scale: float = 1.0) -> dict:
    batch = max(1, round(BATCH * scale))
    with Stack(start_worker=False) as stack:
        run = run_id()
        saturate(
            stack.base_url, stack.token, path="/api/v1/events/batch",
            make_payload=lambda n: [event_body(f"{run}-{n}", i) for i in range(batch)],
            events_per_request=batch, threads=2, duration=duration,
        )  # fmt: skip
        queued = stack.ask("bench.query", "statuses").get("queued", 0)
        stack.worker_start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            statuses = stack.ask("bench.query", "statuses")
            if statuses.get("queued", 0) + statuses.get("sending", 0) == 0:
                break
            time.sleep(1)
        window = stack.ask("bench.query", "send_window")
        return {
            "backlog": queued,
            "sent": window["sent"],
            "sends_per_s": round(window["sent"] / window["seconds"], 1)
            if window["seconds"]
            else None,
            **stack.describe(),
        }
