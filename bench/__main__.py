"""`python -m bench NAME [--duration S] [--scale F]`: run one benchmark; the last line printed
is JSON. `--scale` multiplies the fixed sizes of the benchmarks that have them (customers,
messages, stored events; 1 = the documented size), for quick runs such as the smoke test's."""

from __future__ import annotations

import argparse
import inspect
import json
import signal
import sys
from importlib import import_module

BENCHMARKS = (
    "intake",
    "latency",
    "send_rate",
    "webhooks",
    "dashboard",
    "mailchimp_sync",
    "bulk",
    "peers",
    "soak",
    "db_restart",
    "two_clusters",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=BENCHMARKS)
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase")
    parser.add_argument("--scale", type=float, default=None, help="fraction of the fixed sizes")
    args = parser.parse_args(argv)
    module = import_module(f"bench.{args.name}")
    accepted = inspect.signature(module.run).parameters
    options = {}
    for option in ("duration", "scale"):
        value = getattr(args, option)
        if value is None:
            continue
        if option not in accepted:
            parser.error(f"{args.name} has no --{option}")
        if value <= 0:
            parser.error(f"--{option} must be positive")
        options[option] = value
    # Stopped (SIGTERM): unwind, so that the stack it started is stopped and removed too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    figures = module.run(**options)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
