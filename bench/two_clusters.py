"""`python -m bench two_clusters [--duration S]`: two `qcluster` processes with the same
settings and cluster name (one queue, as on two hosts) sharing the broker (Redis when
REDIS_URL is set) and the database, under 100 events/s for 180 s (S seconds) with light faults
(answers slower than the client's timeout, dropped connections) so that held messages,
reconciliation and re-queues race between the clusters. Half-way through, the second
cluster's process group is killed (SIGKILL: a host lost) and started again 15 s later (S/12 s
when shorter; BENCH_KILL_CLUSTER=0 leaves it alone).

Figures: `duplicates` (correlation ids the provider took more than once, explained), `lost`
(must be 0), the drain time. Which cluster made a send is not recorded by the app (an attempt
has no host), so sends per cluster are not reported."""

from __future__ import annotations

import os
import threading
import time

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

KILL_CLUSTER = os.environ.get("BENCH_KILL_CLUSTER", "1") != "0"
DOWN_S = 15.0  # a twelfth of the run when that is shorter

FIGURES = {
    **LOAD_FIGURES,
    **DRAIN_FIGURES,
    **ACCOUNTING_FIGURES,
    "cluster_killed": dict | None,
    "clusters_alive_at_end": dict,
    **FAULT_STACK_FIGURES,
}
TINY = Tiny(options=("--duration", "2"), expect=TINY_EXPECT, env=TINY_ENV)


def run(duration: float = 180.0) -> dict:
    with FaultStack(env=stack_env(), clusters=2) as stack:
        timeout = float(stack.env["PROVIDER_TIMEOUT"])
        stack.faults_on(
            [
                {"kind": "slow", "probability": 0.003, "delay": timeout + 2},
                {"kind": "drop", "probability": 0.01},
            ]
        )
        load = OpenLoad(stack.base_url, stack.token, rate=100, duration=duration).start()
        outage: dict = {}
        if KILL_CLUSTER:
            down = min(DOWN_S, duration / 12)
            killer = threading.Timer(duration / 2, _lose_host, args=(stack, outage, down))
            killer.start()
        offered = load.wait()
        if KILL_CLUSTER:
            killer.join()
        stack.faults_off()
        print("load", offered, flush=True)
        drained = wait_drain(stack)
        print("drain", drained, flush=True)
        figures = accounting(stack, load)
        return {
            **offered,
            **drained,
            **figures,
            "cluster_killed": outage or None,
            "clusters_alive_at_end": {
                name: stack.processes[name].poll() is None for name in stack.cluster_names
            },
            **stack.describe(),
        }


def _lose_host(stack: FaultStack, outage: dict, down: float) -> None:
    killed_at = time.monotonic()
    stack.cluster_kill("worker2")
    time.sleep(down)
    stack.cluster_start("worker2-again")
    outage.update(name="worker2", signal="SIGKILL", down_s=round(time.monotonic() - killed_at, 1))
