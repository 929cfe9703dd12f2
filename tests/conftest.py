"""Shared fixtures. Later issues add the ESP sandbox and model factories here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Variables a child process must not inherit from the developer's shell or CI.
_SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
)


@pytest.fixture
def child_env(tmp_path):
    """Environment for running the project in a child process: no .env, own DATA_DIR."""

    def make(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARIABLES}
        env.update(ENV_FILE="", DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
        env.update(overrides)
        return env

    return make


@pytest.fixture
def manage(child_env):
    """Run `manage.py ARGS` in a child process and return the completed process."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
        return subprocess.run(
            [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
            cwd=PROJECT_DIR,
            env=env if env is not None else child_env(DEBUG="true"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
