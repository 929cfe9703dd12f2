"""The system under test, started for one benchmark: the app under gunicorn, django-q2
workers and the ESP sandbox, on free loopback ports, against DATABASE_URL / REDIS_URL when
given (a fresh PostgreSQL database is created and dropped) or an SQLite file otherwise."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

PROJECT_DIR = Path(__file__).resolve().parent.parent
MANAGE = str(PROJECT_DIR / "manage.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Stack:
    def __init__(self, *, gunicorn_workers: int | None = None, start_worker: bool = True):
        if gunicorn_workers is None:
            gunicorn_workers = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
        self.gunicorn_workers = gunicorn_workers
        self.start_worker = start_worker
        self.processes: dict[str, subprocess.Popen] = {}
        self._asker: subprocess.Popen | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="rm-bench-"))
        self._pg_admin_url = None
        self._migrated = False
        self.run = secrets.token_hex(4)
        self.env = self._environment()
        self.database = self.env["DATABASE_URL"]
        self.broker = "redis" if self.env.get("REDIS_URL") else "orm"

    # --- environment ------------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        database = os.environ.get("DATABASE_URL", "")
        if database.startswith(("postgres://", "postgresql://")):
            database = self._fresh_postgres_database(database)
        else:
            path = self.tmp / "bench.sqlite3"
            if CACHE_DIR:
                shutil.copyfile(_cached_sqlite_template(), path)
                self._migrated = True
            database = f"sqlite:///{path}"
        env.update(
            ENV_FILE="",
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            PROVIDER_ALLOW_LOOPBACK="true",  # the accounts call the loopback ESP sandbox
            DATA_DIR=str(self.tmp),
            DATABASE_URL=database,
            Q_CLUSTER_NAME=f"rm-bench-{self.run}",  # its own queue on a shared Redis
            LOG_LEVEL="WARNING",
            Q_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        return env

    def _fresh_postgres_database(self, url: str) -> str:
        import psycopg

        parts = urlsplit(url)
        # Named after the given database (each engineer and CI job has its own) with a random
        # part: runs sharing a server never take, or drop, one another's database.
        base = re.sub(r"[^a-z0-9_]", "_", parts.path.strip("/").lower())[:30] or "rm"
        name = f"{base}_bench_{self.run}"
        self._pg_admin_url = urlunsplit(parts._replace(path="/postgres"))
        template = _cached_postgres_template(url, self._pg_admin_url, base) if CACHE_DIR else None
        with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
            conn.execute(
                f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            )
        self._pg_database = name
        self._migrated = template is not None
        return urlunsplit(parts._replace(path=f"/{name}"))

    # --- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def manage(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, MANAGE, *args],
            cwd=PROJECT_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def child(self, *argv: str, timeout: float = 1800) -> dict:
        """Run `python *argv` in the stack's environment; its last line of output, as JSON."""
        done = subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, *argv], cwd=PROJECT_DIR, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{argv} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def ask(self, module: str, *args: str):
        """What `python -m MODULE *ARGS` prints last, as JSON, answered by one long-lived Django
        process (`bench.ask`) instead of a new one each time: for polls."""
        if self._asker is None:
            self._asker = subprocess.Popen(
                [sys.executable, "-m", "bench.ask"], cwd=PROJECT_DIR, env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=(self.tmp / "ask.log").open("w"), text=True,
            )  # fmt: skip
        self._asker.stdin.write(json.dumps([module, *args]) + "\n")
        self._asker.stdin.flush()
        line = self._asker.stdout.readline()
        answer = json.loads(line) if line else {"error": self.log_tail("ask")}
        if "error" in answer:
            raise RuntimeError(f"{module} {args} failed:\n{answer['error']}")
        return answer["result"]

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.tmp / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own command line
            argv,
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _start(self) -> None:
        if not self._migrated:
            self.manage("migrate", "--noinput")
        if CACHE_DIR:
            (self.tmp / "staticfiles").symlink_to(_cached_static_root(), target_is_directory=True)
        else:
            # As a deployment does: pages need the manifest.
            self.manage("collectstatic", "--noinput")
        sandbox_port = free_port()
        self.sandbox = f"http://127.0.0.1:{sandbox_port}"
        seeded = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bench.seed", self.sandbox],
            cwd=PROJECT_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.token = json.loads(seeded.stdout.strip().splitlines()[-1])["token"]
        self._spawn(
            "sandbox",
            [
                sys.executable,
                MANAGE,
                "esp_sandbox",
                "--port",
                str(sandbox_port),
                "--smtp-port",
                str(free_port()),
            ],
        )
        web_port = free_port()
        self.base_url = f"http://127.0.0.1:{web_port}"
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                str(self.gunicorn_workers),
                "--log-level",
                "warning",
            ],
        )
        if self.start_worker:
            self.worker_start()
        _wait_http(f"{self.sandbox}/_sandbox/health")
        _wait_http(f"{self.base_url}/healthz")

    def worker_start(self) -> None:
        self._spawn("worker", [sys.executable, MANAGE, "qcluster"])

    def stop(self) -> None:
        # SIGTERM to each leader only, which stops its own children (gunicorn's workers, the
        # qcluster's sentinel and workers): a signal to the whole group kills the qcluster's
        # sentinel outright, and the qcluster then waits forever on the stop event it shares.
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the leader is alive: the group is ours
                process.wait()
        self.processes.clear()
        if self.broker == "redis":
            self._queue_delete()
        if self._asker is not None:
            self._asker.stdin.close()  # it ends at the end of its input
            try:
                self._asker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._asker.kill()
                self._asker.wait()
            self._asker = None
        if self._pg_admin_url:
            import psycopg

            with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')
            self._pg_admin_url = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _queue_delete(self) -> None:
        """Drop the run's task queue from the Redis it shares: tasks no worker took (a benchmark
        that starts none, or stops it with work left) would otherwise stay there for good."""
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(
                self.env["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5
            )
            with client:  # django_q's Redis broker keeps a cluster's queue in this list
                client.delete(f"django_q:{self.env['Q_CLUSTER_NAME']}:q")

    def describe(self) -> dict:
        return {
            "database": "postgresql" if self._pg_admin_url else "sqlite",
            "broker": self.broker,
            "gunicorn_workers": self.gunicorn_workers,
            "cpus": os.cpu_count(),
        }


# --- BENCH_CACHE_DIR: set-up shared by repeated runs -----------------------------------------
# Every run migrates a new database and collects the static files (~25 s of CPU together).
# With BENCH_CACHE_DIR set (the benchmarks' smoke test sets it), that is done once per state of
# the migrations and static files: into an SQLite file, a PostgreSQL template database and a
# collected static root kept there, which each run copies or links. Remove the directory and
# call `cache_clear(dir)` to drop its template databases.
CACHE_DIR = os.environ.get("BENCH_CACHE_DIR", "")


@functools.cache
def _sources_digest() -> str:
    """Of everything that shapes a migrated database or the collected static files: our
    migrations, static files and settings, and the installed packages (theirs)."""
    digest = hashlib.sha256()
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(packages).encode())
    patterns = ("*/migrations/*.py", "static/**/*", "config/settings.py")
    for path in sorted(p for pattern in patterns for p in PROJECT_DIR.glob(pattern)):
        if path.is_file() and ".venv" not in path.parts:
            digest.update(str(path.relative_to(PROJECT_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _cache_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        ENV_FILE="", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(), ALLOWED_HOSTS="localhost",
        LOG_LEVEL="WARNING", REDIS_URL="", **overrides,
    )  # fmt: skip
    return env


def _manage_cached(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, MANAGE, *args], cwd=PROJECT_DIR, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip


def _cache_path(kind: str) -> Path:
    root = Path(CACHE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{kind}-{_sources_digest()}"


def _cached_sqlite_template() -> Path:
    target = _cache_path("db").with_suffix(".sqlite3")
    if not target.exists():
        work = Path(tempfile.mkdtemp(prefix="rm-bench-cache-"))
        try:
            path = work / "db.sqlite3"
            _manage_cached(
                _cache_env(DATA_DIR=str(work), DATABASE_URL=f"sqlite:///{path}"),
                "migrate", "--noinput",
            )  # fmt: skip
            os.replace(path, target)  # whole or absent, should another run race this one
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _cached_static_root() -> Path:
    target = _cache_path("static")
    if not target.exists():
        work = Path(tempfile.mkdtemp(prefix="rm-bench-cache-"))
        try:
            _manage_cached(
                _cache_env(DATA_DIR=str(work), DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}"),
                "collectstatic", "--noinput",
            )  # fmt: skip
            with contextlib.suppress(OSError):  # another run got there first: theirs is as good
                (work / "staticfiles").rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _cached_postgres_template(url: str, admin_url: str, base: str) -> str:
    """A migrated database to copy (CREATE DATABASE ... TEMPLATE), made once; its name is
    recorded in the cache directory for `cache_clear`."""
    import psycopg

    name = f"{base}_bench_tpl_{_sources_digest()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return name
        work = f"{base}_bench_tplw_{secrets.token_hex(4)}"
        conn.execute(f'CREATE DATABASE "{work}"')
    with (Path(CACHE_DIR) / "postgres-templates").open("a") as record:
        record.write(f"{admin_url} {work}\n{admin_url} {name}\n")
    tmp = Path(tempfile.mkdtemp(prefix="rm-bench-cache-"))
    try:
        database = urlunsplit(urlsplit(url)._replace(path=f"/{work}"))
        _manage_cached(
            _cache_env(DATA_DIR=str(tmp), DATABASE_URL=database),
            "migrate", "--noinput",
        )  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        try:
            conn.execute(f'ALTER DATABASE "{work}" RENAME TO "{name}"')
        except psycopg.errors.DuplicateDatabase:  # another run made it meanwhile
            conn.execute(f'DROP DATABASE "{work}"')
    return name


def cache_clear(directory: str | Path) -> None:
    """Drop the template databases a BENCH_CACHE_DIR recorded (the directory itself stays)."""
    import psycopg

    record = Path(directory) / "postgres-templates"
    if not record.exists():
        return
    for line in sorted(set(record.read_text().splitlines())):
        admin_url, name = line.split(" ", 1)
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.OperationalError:  # the server is gone (a throwaway one), and it with it
            continue
    record.unlink()
