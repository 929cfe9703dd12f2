"""`python -m bench mailchimp_sync [--scale F]`: 100,000 (x F) pending customers synced to a
Mailchimp Marketing audience on the sandbox by one run of the sync task (in its own process, as
a django-q2 worker runs it): wall time of the sync, and the peak of concurrent requests the
sandbox saw for the key (`peak_concurrency`; Mailchimp allows 10)."""

from __future__ import annotations

import json
import time
import urllib.request

from bench.figures import STACK, Tiny
from bench.harness import Stack

CUSTOMERS = 100_000

FIGURES = {
    **STACK,
    "customers": int,
    "synced": int,
    "failed": int,
    "still_pending": int,
    "batch_calls": int,
    "members_received": int,
    "requests": int,
    "wall_s": float,
    "peak_concurrency": int,
    "refused_429": int,
}
TINY = Tiny(
    options=("--scale", "0.01"),
    expect={"customers": 1000, "synced": 1000, "failed": 0, "still_pending": 0, "refused_429": 0},
)


def _sandbox(stack: Stack, method: str, path: str) -> dict:
    url = f"{stack.sandbox}/_sandbox/{path}"
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
        body = response.read()
    return json.loads(body) if body else {}


def sync() -> None:
    """In the benchmark's child process: one sync run, timed; prints the report as JSON."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from returns_mail.models import Customer
    from returns_mail.tasks import sync_audiences

    started = time.perf_counter()
    report = sync_audiences()
    wall = time.perf_counter() - started
    pending = Customer.objects.filter(audience_sync_pending=True).count()
    print(json.dumps({**report, "wall_s": round(wall, 2), "still_pending": pending}))


def run(scale: float = 1.0) -> dict:
    customers = max(1, round(CUSTOMERS * scale))
    with Stack(start_worker=False) as stack:
        seeded = stack.child("-m", "bench.seed_customers", str(customers), stack.sandbox)
        _sandbox(stack, "DELETE", "concurrency")
        report = stack.child("-m", "bench.mailchimp_sync")
        peaks = _sandbox(stack, "GET", "concurrency").get("mailchimp", {})
        requests = _sandbox(stack, "GET", "requests?provider=mailchimp")["requests"]
        members = sum(len(r["body"].get("members", [])) for r in requests if "members" in r["body"])
        return {
            **stack.describe(),
            "customers": seeded["customers"],
            "synced": report["synced"],
            "failed": report["failed"],
            "still_pending": report["still_pending"],
            "batch_calls": sum(1 for r in requests if "members" in r["body"]),
            "members_received": members,
            "requests": len(requests),
            "wall_s": report["wall_s"],
            "peak_concurrency": max((k["peak"] for k in peaks.values()), default=0),
            "refused_429": sum(k["refused"] for k in peaks.values()),
        }


if __name__ == "__main__":
    sync()
