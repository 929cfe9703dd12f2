"""Run several long-lived processes as one: start them all, stop them all.

Used by `manage.py demo` for the web server, the worker and the ESP sandbox. Any of them exiting,
Ctrl-C, SIGTERM, or our own parent going away (say `make` was killed) stops every one. A command
may name a loopback port it serves: the next ones start once it accepts connections (the worker
would otherwise run its first tasks against a sandbox still starting).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import TextIO

GRACE_SECONDS = 10.0
READY_SECONDS = 30.0
# (name, argv) or (name, argv, port it serves on 127.0.0.1)
Command = tuple[str, list[str]] | tuple[str, list[str], int]


def run_together(commands: Sequence[Command], *, out: TextIO) -> int:
    """Run ``commands`` in order until one exits or we are told to stop; return an exit code."""
    stop_requested = False

    def request_stop(signum, frame):
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    parent = os.getppid()
    running: list[tuple[str, subprocess.Popen]] = []
    exit_code = 0
    try:
        for name, argv, *port in commands:
            process = subprocess.Popen(argv)  # noqa: S603 - our own argv
            running.append((name, process))
            if port and not _serving(process, port[0]):
                out.write(f"{name} is not serving port {port[0]}; starting the rest anyway\n")
        while not stop_requested:
            for name, process in running:
                if process.poll() is not None:
                    out.write(f"{name} exited with code {process.returncode}; stopping the rest\n")
                    exit_code = process.returncode or 1
                    stop_requested = True
            if os.getppid() != parent:
                stop_requested = True
            time.sleep(0.2)
    finally:
        _stop_all(running)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def _serving(process: subprocess.Popen, port: int) -> bool:
    """Whether `process` accepts connections on `port` within READY_SECONDS (False once it
    exits)."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop_all(running: list[tuple[str, subprocess.Popen]]) -> None:
    for _, process in running:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for _, process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
