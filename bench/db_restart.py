"""`python -m bench db_restart [--duration S]`: 100 events/s for 180 s (S seconds) against
PostgreSQL (DATABASE_URL must point at the local server); a third of the way in, the local
PostgreSQL cluster is restarted (`pg_ctlcluster VERSION NAME restart`). Neither gunicorn nor
the qcluster is touched: they must reconnect by themselves.

Figures: how long the restart took, the API's refusals around it, seconds from the restart to
the first event accepted and to the first message sent after it, whether the app's processes
survived, the drain time, `lost` (must be 0) and `duplicates`. When something does not recover
the tails of the app's logs are printed before the JSON line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench.faults import (
    ACCOUNTING_FIGURES,
    DRAIN_FIGURES,
    FAULT_STACK_FIGURES,
    LOAD_FIGURES,
    TINY_ENV,
    TINY_EXPECT,
    FaultStack,
    OpenLoad,
    accounting,
    stack_env,
    wait_drain,
)
from bench.figures import Tiny

FIGURES = {
    **LOAD_FIGURES,
    "restart_s": float,
    "api_errors_around_restart": dict,
    "api_longest_no_accept_around_restart_s": float,
    "first_accept_after_restart_s": float | None,
    "first_sent_after_restart_s": float | None,
    "processes_alive_after_load": dict,
    "log_errors": dict,
    "recovered_without_restart": bool,
    **DRAIN_FIGURES,
    **ACCOUNTING_FIGURES,
    "postgresql_cluster": str,
    **FAULT_STACK_FIGURES,
}
TINY = Tiny(
    options=("--duration", "3"),
    expect={**TINY_EXPECT, "recovered_without_restart": True},
    env=TINY_ENV,
    postgresql_only=True,
)


def _fail(message: str) -> None:
    print(f"db_restart: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _cluster(port: int) -> tuple[str, str]:
    """The version and name of the local cluster listening on `port` (from pg_lsclusters)."""
    lsclusters = shutil.which("pg_lsclusters")
    if not lsclusters or not shutil.which("pg_ctlcluster"):
        _fail("pg_lsclusters / pg_ctlcluster not found: restarting PostgreSQL needs them")
    listing = subprocess.run(  # noqa: S603 - fixed command line
        [lsclusters, "--no-header"], capture_output=True, text=True, check=False
    )  # fmt: skip
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == str(port) and fields[3] == "online":
            return fields[0], fields[1]
    _fail(f"no online PostgreSQL cluster on port {port} in pg_lsclusters:\n{listing.stdout}")
    raise AssertionError  # unreachable


def run(duration: float = 180.0) -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        _fail("needs DATABASE_URL=postgres://... (the local server, which it restarts)")
    version, name = _cluster(urlsplit(url).port or 5432)
    with FaultStack(env=stack_env(), second_account=False) as stack:
        load = OpenLoad(stack.base_url, stack.token, rate=100, duration=duration).start()
        time.sleep(duration / 3)
        restart_at = time.time()
        restarted = subprocess.run(  # noqa: S603 - fixed command line
            [shutil.which("pg_ctlcluster"), version, name, "restart"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        back_at = time.time()
        if restarted.returncode:
            _fail(f"pg_ctlcluster {version} {name} restart failed: {restarted.stderr.strip()}")
        print(f"restarted PostgreSQL {version}/{name} in {back_at - restart_at:.1f}s", flush=True)
        offered = load.wait()
        print("load", offered, flush=True)
        alive = {n: p.poll() is None for n, p in stack.processes.items()}
        drained = wait_drain(stack)
        print("drain", drained, flush=True)
        after = stack.ask("bench.faults", "progress", str(back_at))
        first_accept = load.first_accept_after(back_at)
        figures = accounting(stack, load)
        recovered = drained["drain_ended"] == "drained" and all(alive.values())
        if not recovered or figures["lost"]:
            for log in ("web", "worker"):
                print(f"--- tail of {log}.log ---\n{stack.log_tail(log)}", flush=True)
        first_sent = after.get("first_sent_after")
        return {
            **offered,
            "restart_s": round(back_at - restart_at, 2),
            # Around the restart: from its start to 60 s after PostgreSQL was back.
            "api_errors_around_restart": load.errors_between(restart_at, back_at + 60),
            "api_longest_no_accept_around_restart_s": load.longest_gap(
                restart_at - 1, min(back_at + 60, load.finished)
            ),
            "first_accept_after_restart_s": round(first_accept - back_at, 2)
            if first_accept
            else None,
            "first_sent_after_restart_s": round(first_sent - back_at, 2) if first_sent else None,
            "processes_alive_after_load": alive,
            "log_errors": {log: stack.log_errors(log) for log in ("web", "worker")},
            "recovered_without_restart": recovered,
            **drained,
            **figures,
            "postgresql_cluster": f"{version}/{name}",
            **stack.describe(),
        }
