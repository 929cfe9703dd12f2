"""A tiny local HTTP receiver for webhook posts from the sandbox (port 0, its own thread)."""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base_url: str
    posts: queue.Queue = field(default_factory=queue.Queue)

    def url(self, path: str = "/hooks") -> str:
        return self.base_url + path

    def next_post(self, timeout: float = 10.0) -> ReceivedPost:
        """Wait for the next post (waiting is not a timing assertion: it fails only if none)."""
        return self.posts.get(timeout=timeout)


@contextlib.contextmanager
def receiving():
    posts: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            posts.put(ReceivedPost(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(base_url=f"http://127.0.0.1:{server.server_port}", posts=posts)
    finally:
        server.shutdown()
        server.server_close()
