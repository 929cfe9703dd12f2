"""The system under test, started for one benchmark: the app under gunicorn, django-q2
workers and the ESP sandbox, on free loopback ports, against DATABASE_URL / REDIS_URL when
given (a fresh PostgreSQL database is created and dropped) or an SQLite file otherwise."""

from __future__ import annotations

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
    def __init__(self, *, gunicorn_workers: int = 4, start_worker: bool = True):
        self.gunicorn_workers = gunicorn_workers
        self.start_worker = start_worker
        self.processes: dict[str, subprocess.Popen] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="rm-bench-"))
        self._pg_admin_url = None
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
            database = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
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
        with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._pg_database = name
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
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")  # as a deployment does: pages need the manifest
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
        if self._pg_admin_url:
            import psycopg

            with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')
            self._pg_admin_url = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def describe(self) -> dict:
        return {
            "database": "postgresql" if self._pg_admin_url else "sqlite",
            "broker": self.broker,
            "gunicorn_workers": self.gunicorn_workers,
            "cpus": os.cpu_count(),
        }
