"""`python -m bench NAME [--duration S]`: run one benchmark; the last line printed is JSON."""

from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args(argv)
    module = import_module(f"bench.{args.name}")
    options = {} if args.duration is None else {"duration": args.duration}
    figures = module.run(**options)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
