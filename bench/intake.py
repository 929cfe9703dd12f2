"""`python -m bench intake`: events/s at saturation (single and batch endpoints), and p50/p99
latency at an offered 300 events/s. Intake includes writing the outbox rows and queueing their
send tasks on the broker, as in production; the workers are not started, so the figures are the
API's own and not shared with sending on the same two cores (`send_rate` measures that)."""

from __future__ import annotations

from bench.figures import STACK, Tiny
from bench.harness import Stack
from bench.load import event_body, open_loop, run_id, saturate

THREADS = 8
BATCH = 100
WARM_UP_S = 3.0

FIGURES = {
    "single_events_per_s": float,
    "batch_events_per_s": float,
    "p50_ms": float,
    "p99_ms": float,
    "errors": int,
    **STACK,
}
TINY = Tiny(options=("--duration", "1"), expect={"errors": 0})


def run(duration: float = 15.0) -> dict:
    with Stack(start_worker=False) as stack:
        base, token = stack.base_url, stack.token
        run = run_id()
        saturate(
            base, token, path="/api/v1/events", make_payload=lambda n: event_body(f"w{run}", n),
            events_per_request=1, threads=THREADS, duration=min(WARM_UP_S, duration),
        )  # fmt: skip
        single = saturate(
            base, token, path="/api/v1/events", make_payload=lambda n: event_body(f"s{run}", n),
            events_per_request=1, threads=THREADS, duration=duration,
        )  # fmt: skip
        print("single", single, flush=True)
        batch = saturate(
            base, token, path="/api/v1/events/batch",
            make_payload=lambda n: [event_body(f"b{run}-{n}", i) for i in range(BATCH)],
            events_per_request=BATCH, threads=4, duration=duration,
        )  # fmt: skip
        print("batch", batch, flush=True)
        offered = open_loop(base, token, rate=300, duration=duration, threads=32, run=f"o{run}")
        print("open loop", offered, flush=True)
        return {
            "single_events_per_s": single["events_per_s"],
            "batch_events_per_s": batch["events_per_s"],
            "p50_ms": offered["p50_ms"],
            "p99_ms": offered["p99_ms"],
            "errors": single["errors"] + batch["errors"] + offered["errors"],
            **stack.describe(),
        }
