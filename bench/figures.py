"""What a benchmark's last line holds and how the smoke test runs it small, declared beside each
benchmark (`FIGURES`, `TINY`) so that what is documented and what is checked stay the same.

`FIGURES` maps each figure always printed to its kind: `int`, `float` (any finite number),
`str`, `bool`, `dict`, `list`, or a union with `None` where the figure may be missing."""

from __future__ import annotations

from dataclasses import dataclass, field

# Stack.describe(), in every benchmark's figures.
STACK = {"database": str, "broker": str, "gunicorn_workers": int, "cpus": int}
# A small run needs one web process (each takes a second or two of CPU to start).
TINY_ENV = {"BENCH_GUNICORN_WORKERS": "1"}


@dataclass(frozen=True)
class Tiny:
    """A run of a few seconds: `python -m bench NAME *options` with `env` added to the
    environment, which must print `expect`'s figures with exactly these values."""

    options: tuple[str, ...]
    expect: dict = field(default_factory=dict)
    env: dict = field(default_factory=lambda: dict(TINY_ENV))
    postgresql_only: bool = False
