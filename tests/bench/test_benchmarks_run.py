"""The benchmarks' smoke test: every benchmark of `python -m bench` (`BENCHMARKS`) is run at its
tiny size (its `TINY`: seconds, not minutes) on the database and broker of this test session
(SQLite and the ORM broker, or PostgreSQL and Redis with DATABASE_URL / REDIS_URL), and its
last line must be the JSON its `FIGURES` document: those keys and no other, each value of its
kind, and `TINY.expect`'s values exactly (a `postgresql_only` one is skipped on SQLite). A
benchmark that rots, or whose output drifts from what it documents, fails here instead of on
the day someone needs its numbers. The checker itself is tested first, running nothing.

The runs share one BENCH_CACHE_DIR (the database migrated and the static files collected once
for the session); its PostgreSQL template databases are dropped at the end. Benchmarks create
and drop their own databases (`<name>_bench_<random>`, beside pytest's `test_<name>`).

`db_restart` restarts the PostgreSQL cluster it runs on, so it never runs on the session's
(shared) server: it gets a throwaway cluster of its own (`pg_createcluster`, as root), dropped
afterwards, and is skipped, saying why, where that cannot be made."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import typing
from importlib import import_module
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS
from bench.figures import Tiny
from bench.harness import cache_clear

PROJECT_DIR = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600  # a tiny run takes seconds to a minute; a stuck one is stopped after this
TAIL = 4000  # characters of a failed run's output shown

# Benchmarks that restart the PostgreSQL cluster they run on: given a throwaway one.
RESTARTS_POSTGRESQL = frozenset({"db_restart"})


# --- the figures' checker ---------------------------------------------------------------------
def _alternatives(kind) -> tuple:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def _is_kind(value, kind) -> bool:
    if kind is None or kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # any finite number: a whole one prints as an int
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if kind in (str, dict, list):
        return isinstance(value, kind)
    raise TypeError(f"unknown figure kind {kind!r}")


def kind_matches(value, kind) -> bool:
    """Whether `value` (parsed from JSON) is of the figure kind `kind` (see bench.figures)."""
    return any(_is_kind(value, alternative) for alternative in _alternatives(kind))


def kind_known(kind) -> bool:
    known = (int, float, str, bool, dict, list, None, type(None))
    return all(alternative in known for alternative in _alternatives(kind))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 300 else text[:300] + "..."


def same(value, expected) -> bool:
    """Equal, with booleans apart from numbers (`0 == False` in Python, not here)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(value, dict) and isinstance(expected, dict):
        return value.keys() == expected.keys() and all(same(value[k], expected[k]) for k in value)
    if isinstance(value, list) and isinstance(expected, list):
        return len(value) == len(expected) and all(map(same, value, expected))
    return value == expected


def figure_problems(figures: dict, kinds: dict, expect: dict | None = None) -> list[str]:
    """What is wrong with a benchmark's last line `figures` against its documented `kinds`
    (FIGURES) and the values a tiny run must show (`expect`): empty when nothing is."""
    problems = []
    missing = sorted(kinds.keys() - figures.keys())
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    # Undocumented keys fail too: FIGURES is the documentation. The only keys benchmarks add
    # beyond it are a failure's diagnostics (bulk's campaign_error, worker_log_tail), shown.
    for key in sorted(figures.keys() - kinds.keys()):
        problems.append(f"undocumented: {key} = {_short(figures[key])}")
    for key in sorted(kinds.keys() & figures.keys()):
        if not kind_matches(figures[key], kinds[key]):
            problems.append(f"{key} = {_short(figures[key])}: not of kind {kinds[key]!r}")
    for key, value in (expect or {}).items():
        if key in figures and not same(figures[key], value):
            problems.append(f"{key} = {_short(figures[key])}, expected {_short(value)}")
    return problems


def last_line_figures(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert lines, "printed nothing"
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict), f"last line is not a JSON object: {lines[-1][:300]}"
    return figures


def declarations(name: str) -> tuple[dict, Tiny]:
    """The benchmark's FIGURES and TINY, failing the test when either is missing or malformed:
    a benchmark added without them is caught here."""
    module = import_module(f"bench.{name}")
    figures, tiny = getattr(module, "FIGURES", None), getattr(module, "TINY", None)
    assert isinstance(figures, dict), f"bench/{name}.py declares no FIGURES"
    assert figures, f"bench/{name}.py declares empty FIGURES"
    assert isinstance(tiny, Tiny), f"bench/{name}.py declares no TINY (a bench.figures.Tiny)"
    return figures, tiny


# --- the checker can fail (no benchmark run) --------------------------------------------------
KINDS = {"n": int, "rate": float, "page": str, "ok": bool, "by": dict, "ids": list}
GOOD = {"n": 3, "rate": 1.5, "page": "/x", "ok": True, "by": {}, "ids": []}


def test_the_checker_accepts_figures_of_their_kinds():
    assert figure_problems(GOOD, KINDS, {"n": 3, "ok": True}) == []
    assert figure_problems({**GOOD, "rate": 2}, KINDS) == []  # a whole float prints as an int
    optional = {"first_s": float | None, "killed": dict | None, "after": typing.Optional[str]}  # noqa: UP045 - both spellings
    assert figure_problems({"first_s": None, "killed": {}, "after": None}, optional) == []
    assert figure_problems({"first_s": 0.5, "killed": None, "after": "x"}, optional) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("n", 3.0),
        ("n", "3"),
        ("n", True),  # bool is not int
        ("n", None),
        ("rate", math.nan),
        ("rate", math.inf),
        ("rate", False),
        ("rate", "1.5"),
        ("page", 1),
        ("ok", 1),
        ("ok", "true"),
        ("by", []),
        ("ids", {}),
        ("ids", None),
    ],
)
def test_the_checker_rejects_a_value_of_another_kind(key, value):
    problems = figure_problems({**GOOD, key: value}, KINDS)
    assert len(problems) == 1
    assert problems[0].startswith(f"{key} = ")


def test_the_checker_rejects_missing_and_undocumented_keys():
    figures = {k: v for k, v in GOOD.items() if k != "rate"} | {"campaign_error": "boom"}
    assert figure_problems(figures, KINDS) == [
        "missing: rate",
        'undocumented: campaign_error = "boom"',
    ]


def test_the_checker_rejects_an_unexpected_value():
    assert figure_problems(GOOD, KINDS, {"n": 4}) == ["n = 3, expected 4"]
    assert figure_problems(GOOD, KINDS, {"by": {"sent": 1}}) == ['by = {}, expected {"sent": 1}']
    assert figure_problems(GOOD, KINDS, {"ok": 1}) == ["ok = true, expected 1"]
    assert figure_problems(GOOD, KINDS, {"by": {"sent": True}, "ids": [0]}) == [
        'by = {}, expected {"sent": true}',
        "ids = [], expected [0]",
    ]
    assert same({"sent": 1, "ids": [1, 2.0]}, {"sent": 1.0, "ids": [1, 2]})
    assert not same({"sent": 1}, {"sent": True})


def test_the_checker_refuses_an_unknown_kind():
    with pytest.raises(TypeError, match="unknown figure kind"):
        figure_problems({"x": [1]}, {"x": list[int]})


def test_the_last_line_must_be_a_json_object():
    assert last_line_figures('starting\n{"a": 1}\n') == {"a": 1}
    with pytest.raises(AssertionError, match="not a JSON object"):
        last_line_figures("[1, 2]\n")
    with pytest.raises(json.JSONDecodeError):
        last_line_figures('{"a": 1}\nTraceback (most recent call last):\n')


# --- every benchmark's declarations (no run) --------------------------------------------------
@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_declares_its_figures_and_tiny_run(name):
    figures, tiny = declarations(name)
    unknown = {k: v for k, v in figures.items() if not kind_known(v)}
    assert not unknown, f"FIGURES of kinds the checker does not know: {unknown}"
    undocumented = sorted(tiny.expect.keys() - figures.keys())
    assert not undocumented, f"TINY.expect names figures FIGURES does not document: {undocumented}"
    wrong = {k: v for k, v in tiny.expect.items() if not kind_matches(v, figures[k])}
    assert not wrong, f"TINY.expect values not of their figures' kinds: {wrong}"
    assert all(isinstance(v, str) for v in tiny.env.values()), "TINY.env values must be str"


# --- every benchmark, run tiny ----------------------------------------------------------------
def _on_postgresql(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


@pytest.fixture(scope="session")
def bench_cache_dir(tmp_path_factory):
    """One BENCH_CACHE_DIR for the session's runs; its template databases dropped after."""
    directory = tmp_path_factory.mktemp("bench-cache")
    yield directory
    cache_clear(directory)
    shutil.rmtree(directory, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _throwaway_cluster_missing() -> str:
    """Why a throwaway PostgreSQL cluster cannot be made here ("" when it can)."""
    tools = ("pg_createcluster", "pg_dropcluster", "pg_ctlcluster", "pg_lsclusters")
    absent = [tool for tool in tools if not shutil.which(tool)]
    if absent:
        return f"{', '.join(absent)} not found (Debian's postgresql-common)"
    if os.geteuid() != 0:
        return "pg_createcluster needs root"
    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "no PostgreSQL server installed under /usr/lib/postgresql"
    return ""


@pytest.fixture(scope="session")
def throwaway_postgresql(bench_cache_dir):
    """DATABASE_URL of a PostgreSQL cluster of its own (trust authentication on loopback, not
    started at boot), for a benchmark that restarts its cluster; dropped at the end. Depends on
    bench_cache_dir so that it is dropped first (cache_clear then skips its templates)."""
    missing = _throwaway_cluster_missing()
    if missing:
        pytest.skip(f"restarts its PostgreSQL cluster, so it needs a throwaway one: {missing}")
    installed = [path.parts[-3] for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    version = max(installed, key=lambda v: [int(n) for n in v.split(".") if n.isdigit()])
    name, port = f"rm_bench_{secrets.token_hex(3)}", _free_port()
    created = subprocess.run(
        ["pg_createcluster", version, name, "--port", str(port), "--start-conf", "manual",
         "--start", "--", "--auth=trust"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        assert created.returncode == 0, f"pg_createcluster failed:\n{created.stderr[-TAIL:]}"
        yield f"postgres://postgres@127.0.0.1:{port}/rm_db_restart"
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, name],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM, which `python -m bench` turns into stopping its stack (SIGKILL would leave its
    gunicorn, qclusters and sandbox running: they have sessions of their own)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _run(argv: list[str], env: dict[str, str]) -> tuple[int | None, str, str, float]:
    """Run `argv`: its exit status (None when stopped after TIMEOUT_S), output and seconds."""
    started = time.monotonic()
    process = subprocess.Popen(
        argv, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        return None, stdout, stderr, time.monotonic() - started
    except BaseException:  # interrupted: the run's stack stopped too
        _stop(process)
        raise
    return process.returncode, stdout, stderr, time.monotonic() - started


@pytest.mark.bench
@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_runs_tiny_and_prints_its_documented_figures(name, request, bench_cache_dir):
    kinds, tiny = declarations(name)
    database_url = os.environ.get("DATABASE_URL", "")
    if tiny.postgresql_only and not _on_postgresql(database_url):
        pytest.skip(
            f"{name} runs on PostgreSQL only; this session runs on SQLite (no DATABASE_URL=postgres://...)"
        )
    env = {**os.environ, **tiny.env, "BENCH_CACHE_DIR": str(bench_cache_dir)}
    env["PYTHONUNBUFFERED"] = "1"  # a run stopped at the timeout still shows how far it got
    if name in RESTARTS_POSTGRESQL:
        env["DATABASE_URL"] = request.getfixturevalue("throwaway_postgresql")
    argv = [sys.executable, "-m", "bench", name, *tiny.options]
    returncode, stdout, stderr, seconds = _run(argv, env)
    shown = f"--- stdout (tail) ---\n{stdout[-TAIL:]}\n--- stderr (tail) ---\n{stderr[-TAIL:]}"
    command = f"python -m bench {name} {' '.join(tiny.options)}"
    assert returncode is not None, f"{command} still running after {TIMEOUT_S} s:\n{shown}"
    assert returncode == 0, f"{command} exited {returncode} after {seconds:.0f} s:\n{shown}"
    try:
        figures = last_line_figures(stdout)
    except (AssertionError, json.JSONDecodeError) as error:
        pytest.fail(f"{command}: the last line is not its JSON figures ({error}):\n{shown}")
    # On the session's database and broker (PostgreSQL for db_restart, on a throwaway cluster).
    expect = {
        **tiny.expect,
        "database": "postgresql" if _on_postgresql(env.get("DATABASE_URL", "")) else "sqlite",
        "broker": "redis" if env.get("REDIS_URL") else "orm",
    }
    problems = figure_problems(figures, kinds, expect)
    assert not problems, (
        f"{command} ({seconds:.0f} s) printed figures other than it documents:\n  "
        + "\n  ".join(problems)
        + f"\n{shown}"
    )
