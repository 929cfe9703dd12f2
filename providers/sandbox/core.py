"""The pieces every provider app of the sandbox uses: requests, responses, faults."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from providers.sandbox.webhooks import WebhookTarget


@dataclass
class SandboxRequest:
    method: str
    path: str  # below the provider's prefix, without the query string, e.g. "/v3/mail/send"
    query: dict[str, list[str]]
    headers: Message  # case-insensitive
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError on anything else."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


@dataclass
class SandboxResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> SandboxResponse:
        return cls(
            status,
            json.dumps(payload).encode("utf-8"),
            {"Content-Type": content_type, **(headers or {})},
        )


class Sandbox(Protocol):
    """What a provider app may use of the sandbox serving it (`server.EspSandbox`): declared
    here so that the apps depend on this module only and the server on the apps, not back."""

    lock: threading.RLock  # held around every read-modify-write of `state`
    state: dict[str, dict[str, Any]]  # per provider name, the app's own state

    def record(
        self, provider: str, request: SandboxRequest | None, *, key: str | None, **extra
    ) -> dict:
        """Remember something the provider accepted (what `/_sandbox/requests` lists)."""

    def webhook_target(self, provider: str, key: str | None) -> WebhookTarget | None:
        """Where this key's events are posted, if a test or the demo asked for them."""

    def post_webhook(self, delay: float, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Post a webhook `delay` seconds from now, from the sandbox's dispatcher thread."""


class ProviderApp(Protocol):
    """One provider's API inside the sandbox, mounted under ``/<name>``."""

    name: str

    def api_key(self, request: SandboxRequest) -> str | None:
        """The API key the request authenticates with (for faults and records)."""

    def handle(self, request: SandboxRequest, sandbox: Sandbox) -> SandboxResponse:
        """Answer the request as the real provider would (status, headers, error bodies)."""

    def fault_response(self, status: int, request: SandboxRequest) -> SandboxResponse:
        """The provider's own error body for an injected 429/500/503."""


FAULT_KINDS = ("429", "500", "503", "slow", "drop")


@dataclass
class Fault:
    kind: str
    times: int | None = None  # None: until cleared
    retry_after: int = 1  # seconds, for 429
    delay: float = 0.0  # seconds, for slow
    probability: float = 1.0  # chance that a matching request is hit
    after: int = 0  # matching requests let through first (a fault on the third page, say)

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")


class FaultBook:
    """Faults on demand, per API key ("*" matches every key). Thread-safe."""

    def __init__(self, rng: random.Random | None = None):
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._rng = rng or random.Random()  # noqa: S311 - fault injection, not security

    def add(self, key: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(key, []).append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, key: str | None) -> Fault | None:
        """The fault that applies to this request, if any (consuming one of its `times`)."""
        with self._lock:
            for candidate_key in (key or "", "*"):
                for fault in self._faults.get(candidate_key, []):
                    if fault.times is not None and fault.times <= 0:
                        continue
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if self._rng.random() >= fault.probability:
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def describe(self) -> dict[str, list[dict]]:
        with self._lock:
            return {key: [vars(f).copy() for f in faults] for key, faults in self._faults.items()}


def key_hint(key: str | None) -> str:
    """What records show of an API key: its last four characters."""
    return f"...{key[-4:]}" if key and len(key) >= 8 else ("set" if key else "")
