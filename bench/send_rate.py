"""`python -m bench send_rate`: sends handed to the provider per second by one `qcluster` with
the default worker count, draining a backlog of queued messages."""

from __future__ import annotations

import time

from bench.harness import Stack
from bench.latency import _query
from bench.load import event_body, run_id, saturate


def run(duration: float = 0.0) -> dict:
    with Stack(start_worker=False) as stack:
        run = run_id()
        saturate(
            stack.base_url, stack.token, path="/api/v1/events/batch",
            make_payload=lambda n: [event_body(f"{run}-{n}", i) for i in range(100)],
            events_per_request=100, threads=2, duration=2,
        )  # fmt: skip
        queued = _query(stack, "statuses").get("queued", 0)
        stack.worker_start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            statuses = _query(stack, "statuses")
            if statuses.get("queued", 0) + statuses.get("sending", 0) == 0:
                break
            time.sleep(1)
        window = _query(stack, "send_window")
        return {
            "backlog": queued,
            "sent": window["sent"],
            "sends_per_s": round(window["sent"] / window["seconds"], 1)
            if window["seconds"]
            else None,
            **stack.describe(),
        }
