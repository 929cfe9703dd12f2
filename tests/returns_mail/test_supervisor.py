"""The demo's supervisor: a command that names its port is serving before the next starts."""

from __future__ import annotations

import io
import socket
import sys
import textwrap

from returns_mail.supervisor import run_together


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_next_command_starts_once_the_port_is_served(tmp_path):
    port = _free_port()
    seen = tmp_path / "seen"
    # Serves only after a second: started together, the second command would be refused.
    server = textwrap.dedent(f"""
        import socket, time
        time.sleep(1)
        s = socket.socket(); s.bind(("127.0.0.1", {port})); s.listen()
        time.sleep(30)
    """)
    client = textwrap.dedent(f"""
        import socket, pathlib
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            pathlib.Path({str(seen)!r}).write_text("served")
        except OSError:
            pathlib.Path({str(seen)!r}).write_text("refused")
    """)
    out = io.StringIO()

    run_together(
        [
            ("server", [sys.executable, "-c", server], port),
            ("client", [sys.executable, "-c", client]),
        ],
        out=out,
    )

    assert seen.read_text() == "served"
    assert "client exited with code 0" in out.getvalue()
