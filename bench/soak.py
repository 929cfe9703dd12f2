"""`python -m bench soak [--duration S]`: 100 events/s for 10 minutes (S seconds) while the ESP
sandbox injects random faults on every request (429, 503, slow answers below and above the
client's timeout, dropped connections); the faults are removed when the load ends and the
bench waits for every message to reach a final state.

Figures: `lost` (accepted events without a message, messages never finished, messages recorded
as sent that the provider never took: must be 0) and `duplicates` (correlation ids the sandbox
accepted more than once, each explained from the message's attempts), plus the drain time,
the client's retries and the faults injected."""

from __future__ import annotations

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

FIGURES = {
    **LOAD_FIGURES,
    **DRAIN_FIGURES,
    **ACCOUNTING_FIGURES,
    "accounting_s": float,
    **FAULT_STACK_FIGURES,
}
TINY = Tiny(options=("--duration", "1"), expect=TINY_EXPECT, env=TINY_ENV)


def soak_faults(timeout: float) -> list[dict]:
    # Tried in this order, each with its own chance: about 10% of requests hit a fault.
    return [
        {"kind": "429", "probability": 0.03, "retry_after": 1},
        {"kind": "503", "probability": 0.03},
        {"kind": "slow", "probability": 0.02, "delay": 1.0},
        # Longer than the client waits: the provider takes a mail the client never hears of.
        {"kind": "slow", "probability": 0.003, "delay": timeout + 2},
        {"kind": "drop", "probability": 0.02},
    ]


def run(duration: float = 600.0) -> dict:
    with FaultStack(env=stack_env()) as stack:
        timeout = float(stack.env["PROVIDER_TIMEOUT"])
        stack.faults_on(soak_faults(timeout))
        load = OpenLoad(stack.base_url, stack.token, rate=100, duration=duration).start()
        offered = load.wait()
        stack.faults_off()
        print("load", offered, flush=True)
        drained = wait_drain(stack)
        print("drain", drained, flush=True)
        started = time.monotonic()
        figures = accounting(stack, load)
        return {
            **offered,
            **drained,
            **figures,
            "accounting_s": round(time.monotonic() - started, 1),
            **stack.describe(),
        }
