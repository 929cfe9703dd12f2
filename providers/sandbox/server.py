"""The sandbox's HTTP server: routes `/<provider>/...` to provider apps, `/_sandbox/...` to
its own control endpoints, applies injected faults, and keeps a record of what it accepted.

Control endpoints (JSON):
  GET    /_sandbox/requests[?provider=sendgrid]   what each provider accepted, oldest first
  POST   /_sandbox/faults   {"key", "kind": 429|500|503|slow|drop, "times", "retry_after",
                             "delay", "probability"}      ("key": "*" hits every key)
  DELETE /_sandbox/faults
  POST   /_sandbox/webhooks {"provider", "key", "url", "secret", "delay", "rates"}
  POST   /_sandbox/suppressions {"provider", "key", ...}   put addresses on the key's own
                             suppression lists (each provider's `seed_suppressions` says what)
  POST   /_sandbox/inbound/targets {"provider", "key", "url", "secret", "domain", "raw"}
  POST   /_sandbox/inbound  {"provider", "key", "to", "from", "subject", "text", "headers"}
                             a customer's reply, posted now as the provider posts inbound mail
                             (providers/sandbox/inbound.py)
  POST   /_sandbox/reset    forget records, state, faults and webhook targets
  GET    /_sandbox/concurrency   per provider and key: requests in flight, peak, refused (429)
  DELETE /_sandbox/concurrency   forget the peaks

And HTML pages: /_sandbox/inbox, the emails delivered, each with a one-click unsubscribe button
(providers/sandbox/inbox.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

from providers.sandbox.core import (
    Fault,
    FaultBook,
    ProviderApp,
    SandboxRequest,
    SandboxResponse,
    key_hint,
)
from providers.sandbox.inbound import (
    PROVIDERS as INBOUND_PROVIDERS,
)
from providers.sandbox.inbound import (
    InboundTarget,
    inbound_deliver,
    mime_message,
)
from providers.sandbox.inbox import inbox_control
from providers.sandbox.webhooks import WebhookDispatcher, WebhookPost, WebhookTarget

logger = logging.getLogger(__name__)

# What the sandbox runs on besides the app's own dependencies: the `sandbox` extra, pinned in
# requirements.lock and left out of requirements-prod.lock.
SANDBOX_PACKAGES = ("aiosmtpd", "handlebars")

DEFAULT_PROVIDER_APPS = (
    "providers.sandbox.sendgrid:SendGridApp",
    "providers.sandbox.mailchimp:MailchimpMarketingApp",
    "providers.sandbox.mandrill:MandrillApp",
)


def default_provider_apps() -> list[ProviderApp]:
    apps = []
    for dotted in DEFAULT_PROVIDER_APPS:
        module_name, _, class_name = dotted.partition(":")
        apps.append(getattr(import_module(module_name), class_name)())
    return apps


def require_sandbox_packages() -> None:
    """Refuse to start without them: handlebars.js is only imported at the first render, which
    would otherwise answer every templated send with an error instead."""
    missing = [name for name in SANDBOX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(
            f"The ESP sandbox needs {', '.join(missing)} (the `sandbox` extra): install "
            "requirements.lock, as `make demo` and `make test` do; requirements-prod.lock, "
            "production's, leaves them out."
        )


class EspSandbox:
    def __init__(self, provider_apps: list[ProviderApp] | None = None):
        self.lock = threading.RLock()
        self.apps = {app.name: app for app in (provider_apps or default_provider_apps())}
        self.faults = FaultBook()
        self.webhooks = WebhookDispatcher()
        self.state: dict[str, dict[str, Any]] = {name: {} for name in self.apps}
        self._records: list[dict] = []
        self._ids = count(1)
        self._targets: dict[tuple[str, str], WebhookTarget] = {}
        self._inbound: dict[tuple[str, str], InboundTarget] = {}
        self._server: ThreadingHTTPServer | None = None
        self.smtp = None
        self._in_flight = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------------
    def start(
        self, host: str = "127.0.0.1", port: int = 0, *, smtp_port: int | None = None
    ) -> EspSandbox:
        """Serve HTTP on `port` (0: any free one) and SMTP on `smtp_port` (None: any free one)."""
        require_sandbox_packages()
        from providers.sandbox.smtp import SmtpSandbox

        self.smtp = SmtpSandbox(self, host=host, port=smtp_port).start()
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="esp-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.smtp:
            self.smtp.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self.webhooks.stop()

    def serve_forever(
        self,
        host: str,
        port: int,
        smtp_port: int | None,
        *,
        started: Callable[[EspSandbox], None] | None = None,
    ) -> None:
        """Run in the foreground (the `esp_sandbox` command) until interrupted; `started` is
        called once both servers listen (to tell which ports they took)."""
        self.start(host, port, smtp_port=smtp_port)
        if started is not None:
            started(self)
        try:
            while self._thread and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    @property
    def port(self) -> int:
        """The HTTP port it listens on (the one it took, when started on port 0)."""
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def base_url(self, provider: str) -> str:
        """What a provider account's `api_base_url` is set to, to send here."""
        return f"{self.url}/{provider}"

    # --- requests in flight ------------------------------------------------------------------
    @contextlib.contextmanager
    def busy(self):
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being answered (a slow fault may outlive its test)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # --- records -----------------------------------------------------------------------------
    def record(
        self, provider: str, request: SandboxRequest | None, *, key: str | None, **extra
    ) -> dict:
        """Remember something the provider accepted. `extra` is provider-specific (message ids,
        the parsed body without its key, ...). SMTP records have no HTTP request."""
        with self.lock:
            entry = {
                "id": next(self._ids),
                "provider": provider,
                "method": request.method if request else "SMTP",
                "path": request.path if request else "",
                "key": key_hint(key),
                "received_at": datetime.now(UTC).isoformat(),
                **extra,
            }
            self._records.append(entry)
            return entry

    def records(self, provider: str | None = None, path: str | None = None) -> list[dict]:
        with self.lock:
            return [
                r
                for r in self._records
                if (provider is None or r["provider"] == provider)
                and (path is None or r["path"] == path)
            ]

    def reset(self) -> None:
        with self.lock:
            self._records.clear()
            self._targets.clear()
            self._inbound.clear()
            for name in self.state:
                self.state[name] = {}
        self.faults.clear()
        self.webhooks.clear()
        self.concurrency_reset()

    def concurrency(self) -> dict[str, dict]:
        """Per provider that measures it (Mailchimp Marketing), per key: in flight, peak, 429s."""
        return {
            name: app.concurrency()
            for name, app in self.apps.items()
            if hasattr(app, "concurrency")
        }

    def concurrency_reset(self) -> None:
        for app in self.apps.values():
            if hasattr(app, "reset_concurrency"):
                app.reset_concurrency()

    def seed_suppressions(self, provider: str, key: str, body: dict) -> dict:
        """Put addresses on `key`'s own suppression lists at `provider` (for tests)."""
        app = self.apps.get(provider)
        if app is None or not hasattr(app, "seed_suppressions"):
            raise ValueError(f"{provider!r} keeps no suppression lists here")
        return app.seed_suppressions(self, key, body)

    # --- webhooks ----------------------------------------------------------------------------
    def set_webhook_target(self, provider: str, key: str, target: WebhookTarget) -> None:
        with self.lock:
            self._targets[(provider, key)] = target

    def webhook_target(self, provider: str, key: str | None) -> WebhookTarget | None:
        with self.lock:
            return self._targets.get((provider, key or "")) or self._targets.get((provider, "*"))

    def post_webhook(self, delay: float, url: str, body: bytes, headers: dict[str, str]) -> None:
        self.webhooks.post_later(delay, WebhookPost(url, body, headers))

    # --- inbound mail (customers' replies) ----------------------------------------------------
    def set_inbound_target(self, provider: str, key: str, target: InboundTarget) -> None:
        if provider not in INBOUND_PROVIDERS:
            raise ValueError(f"no inbound mail for provider {provider!r}")
        with self.lock:
            self._inbound[(provider, key)] = target

    def inbound_send(self, provider: str, key: str, message) -> dict:
        """Post `message` to the provider's inbound target for `key`, now."""
        with self.lock:
            target = self._inbound.get((provider, key))
        if target is None:
            raise ValueError(f"no inbound target for {provider!r} and that key")
        outcome = inbound_deliver(provider, target, message)
        self.record(
            f"{provider}-inbound",
            None,
            key=key,
            to=str(message["To"]),
            subject=str(message["Subject"]),
            status=outcome.get("status"),
        )
        return outcome

    def inbox_reply(self, email: dict, text: str) -> dict:
        """The inbox's Reply button: the customer answers `email` with `text`."""
        found = self.inbound_for(parseaddr(email["reply_to"])[1])
        if found is None:
            raise ValueError("no inbound target for the reply-to's domain")
        message = mime_message(
            to=email["reply_to"],
            from_=email["to"].split(",")[0].strip(),
            subject="Re: " + email["subject"],
            text=text,
        )
        return self.inbound_send(*found, message)

    def inbound_for(self, address: str) -> tuple[str, str] | None:
        """(provider, key) of the inbound target whose domain receives `address`."""
        domain = address.rpartition("@")[2].lower()
        with self.lock:
            for (provider, key), target in self._inbound.items():
                if target.domain and target.domain.lower() == domain:
                    return provider, key
        return None

    # --- dispatch ----------------------------------------------------------------------------
    def dispatch(self, request: SandboxRequest, provider: str) -> SandboxResponse | None:
        """Answer a provider request; None means "drop the connection"."""
        app = self.apps[provider]
        key = app.api_key(request)
        fault = self.faults.take(key)
        if fault is not None:
            if fault.kind == "drop":
                return None
            if fault.kind == "slow":
                time.sleep(fault.delay)
            else:
                response = app.fault_response(int(fault.kind), request)
                if fault.kind == "429":
                    response.headers["Retry-After"] = str(fault.retry_after)
                return response
        return app.handle(request, self)

    def control(self, request: SandboxRequest) -> SandboxResponse:
        try:
            return self._control(request)
        except (ValueError, TypeError, KeyError) as exc:
            return SandboxResponse.json(400, {"error": str(exc)})

    def _control(self, request: SandboxRequest) -> SandboxResponse:
        route = (request.method, request.path)
        if route == ("GET", "/requests"):
            provider = request.query.get("provider", [None])[0]
            return SandboxResponse.json(200, {"requests": self.records(provider)})
        if route == ("POST", "/faults"):
            body = request.json()
            key = body.pop("key")
            self.faults.add(key, Fault(**body))
            return SandboxResponse.json(201, {"faults": self.faults.describe()})
        if route == ("DELETE", "/faults"):
            self.faults.clear()
            return SandboxResponse(204)
        if route == ("GET", "/faults"):
            return SandboxResponse.json(200, {"faults": self.faults.describe()})
        if route == ("POST", "/webhooks"):
            body = request.json()
            provider, key = body.pop("provider"), body.pop("key")
            if provider not in self.apps:
                raise ValueError(f"unknown provider {provider!r}")
            self.set_webhook_target(provider, key, WebhookTarget(**body))
            return SandboxResponse.json(201, {"provider": provider, "key": key_hint(key)})
        if route == ("POST", "/inbound/targets"):
            body = request.json()
            provider, key = body.pop("provider"), body.pop("key")
            self.set_inbound_target(provider, key, InboundTarget(**body))
            return SandboxResponse.json(201, {"provider": provider, "key": key_hint(key)})
        if route == ("POST", "/inbound"):
            body = request.json()
            message = mime_message(
                to=body["to"],
                from_=body["from"],
                subject=body.get("subject", ""),
                text=body.get("text", ""),
                headers=body.get("headers") or {},
            )
            return SandboxResponse.json(
                200, self.inbound_send(body["provider"], body["key"], message)
            )
        if route == ("POST", "/suppressions"):
            body = request.json()
            provider, key = body.pop("provider"), body.pop("key")
            return SandboxResponse.json(201, self.seed_suppressions(provider, key, body))
        if route == ("GET", "/webhooks/log"):
            return SandboxResponse.json(200, {"posts": list(self.webhooks.log)})
        if route == ("POST", "/reset"):
            self.reset()
            return SandboxResponse(204)
        if route == ("GET", "/concurrency"):
            return SandboxResponse.json(200, self.concurrency())
        if route == ("DELETE", "/concurrency"):
            self.concurrency_reset()
            return SandboxResponse(204)
        inbox = inbox_control(
            request.method, request.path, self.records(), self.inbox_reply, request.body
        )
        if inbox is not None:
            return inbox
        if route == ("GET", "/health"):
            return SandboxResponse.json(200, {"status": "ok", "providers": sorted(self.apps)})
        return SandboxResponse.json(
            404, {"error": f"no sandbox control {request.method} {request.path}"}
        )


class _Handler(BaseHTTPRequestHandler):
    sandbox: EspSandbox
    protocol_version = "HTTP/1.1"
    server_version = "esp-sandbox"

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    def _handle(self):
        with self.sandbox.busy():
            self._answer()

    def _answer(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        prefix, _, rest = parts.path.lstrip("/").partition("/")
        request = SandboxRequest(
            method=self.command,
            path="/" + rest,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        if prefix == "_sandbox":
            response = self.sandbox.control(request)
        elif prefix in self.sandbox.apps:
            try:
                response = self.sandbox.dispatch(request, prefix)
            except Exception:
                logger.exception("sandbox %s failed on %s %s", prefix, self.command, parts.path)
                response = SandboxResponse.json(500, {"error": "sandbox bug; see its log"})
            if response is None:
                self._drop()
                return
        else:
            response = SandboxResponse.json(
                404,
                {"error": f"unknown provider prefix /{prefix}; known: {sorted(self.sandbox.apps)}"},
            )
        self._send(response)

    def _send(self, response: SandboxResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _drop(self) -> None:
        """Close the connection without answering, as a crashed load balancer would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle
