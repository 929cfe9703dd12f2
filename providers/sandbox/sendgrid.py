"""SendGrid v3 inside the ESP sandbox, mounted at /sendgrid: the SDK's host is
`{sandbox.url}/sendgrid` and it calls `/sendgrid/v3/...`.

Endpoints: `POST /v3/mail/send` (recorded with what each personalization's email would be:
`rendered`, see sendgrid_render); `GET /v3/scopes`, `/v3/user/account`, `/v3/user/username`;
`GET /v3/user/webhooks/event/settings/signed[/{id}]`; dynamic templates (sendgrid_templates);
the Email Activity Feed `GET /v3/messages` (sendgrid_activity); domain authentication
`/v3/whitelabel/domains` (sendgrid_domains); the suppression lists and unsubscribe groups
(`/v3/suppression/...`, `/v3/asm/...`: sendgrid_suppressions), which accepted mail fills as its
simulated bounces, spam reports and unsubscribes happen.

Keys behave like real ones: a Bearer token that does not start with "SG." or contains
"revoked" gets 401; one containing "noscope" lacks `mail.send` (403 on mail/send); one
containing "noactivity" has no Email Activity add-on (403 on /v3/messages). Every
response carries `X-RateLimit-*`, and a key that exceeds `rate_limit` requests in a minute gets
429 like the real service. Every 2xx answer is recorded; accepted mail (outside sandbox mode)
produces signed Event Webhook posts when a webhook target is configured (sendgrid_events).
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec

from providers.sandbox import sendgrid_domains as domains
from providers.sandbox import sendgrid_suppressions as suppressions
from providers.sandbox import sendgrid_templates as templates
from providers.sandbox.core import SandboxRequest, SandboxResponse
from providers.sandbox.sendgrid_activity import activity_index, messages
from providers.sandbox.sendgrid_events import (
    build_events,
    event_batches,
    new_signing_key,
    public_key_text,
    signed_headers,
)
from providers.sandbox.sendgrid_render import rendered_mail
from providers.sandbox.sendgrid_validation import (
    errors_response,
    not_found,
    ok,
    plain_error,
    validate_mail,
)

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_BODY_BYTES = 30 * 1024 * 1024
RATE_WINDOW = 60  # seconds

SCOPES = (
    "mail.send",
    "mail.batch.create",
    "mail.batch.read",
    "scopes.read",
    "templates.create",
    "templates.read",
    "templates.update",
    "templates.delete",
    "templates.versions.create",
    "templates.versions.read",
    "templates.versions.update",
    "templates.versions.delete",
    "templates.versions.activate.create",
    "user.account.read",
    "user.username.read",
    "user.webhooks.event.settings.read",
    "whitelabel.create",
    "whitelabel.read",
)

UNAUTHORIZED = "The provided authorization grant is invalid, expired, or revoked"
FAULT_MESSAGES = {
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}


class SendGridApp:
    name = "sendgrid"
    #: Requests per key per minute. SendGrid publishes no number; this only stops runaways.
    rate_limit = 10_000
    #: Personalizations per request rendered with a dynamic template (handlebars.js is slow here).
    render_limit = 100

    def __init__(
        self, *, seed: int | None = None, signing_key: ec.EllipticCurvePrivateKey | None = None
    ):
        # Generated per instance unless given: pass one to keep the public key across restarts.
        self._signing_key = signing_key or new_signing_key()
        self.webhook_id = "sandbox-" + secrets.token_hex(8)
        self._rng = random.Random(seed)  # noqa: S311 - simulated events, not security
        self._rate_lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window start, requests)
        self._routes = [
            ("/v3/mail/send", {"POST": self._mail_send}),
            ("/v3/messages", {"GET": messages}),
            ("/v3/scopes", {"GET": self._scopes}),
            ("/v3/user/account", {"GET": self._account}),
            ("/v3/user/username", {"GET": self._username}),
            (
                "/v3/user/webhooks/event/settings/signed(?:/(?P<webhook>[^/]+))?",
                {"GET": self._signed},
            ),
            *templates.ROUTES,
            *domains.ROUTES,
            *suppressions.ROUTES,
        ]

    def public_key(self) -> str:
        """The signed Event Webhook's verification key, as SendGrid's settings page shows it."""
        return public_key_text(self._signing_key)

    # --- ProviderApp -------------------------------------------------------------------------
    def api_key(self, request: SandboxRequest) -> str | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def handle(self, request: SandboxRequest, sandbox: Sandbox) -> SandboxResponse:
        key = self.api_key(request)
        rate_headers, exhausted = self._take_rate(key)
        if not key or not key.startswith("SG.") or "revoked" in key:
            response = plain_error(401, UNAUTHORIZED)
        elif exhausted:
            response = self.fault_response(429, request)
        else:
            response = self._route(request, sandbox, key)
        response.headers.update(rate_headers)
        return response

    def fault_response(self, status: int, request: SandboxRequest) -> SandboxResponse:
        message = FAULT_MESSAGES.get(status, "internal server error")
        response = errors_response(status, {"field": None, "message": message})
        headers, _ = self._take_rate(self.api_key(request), consume=False)
        if status == 429:
            headers["X-RateLimit-Remaining"] = "0"
        response.headers.update(headers)
        return response

    # --- plumbing ----------------------------------------------------------------------------
    def _take_rate(self, key: str | None, *, consume: bool = True) -> tuple[dict[str, str], bool]:
        now = int(time.time())
        window = now - now % RATE_WINDOW
        with self._rate_lock:
            start, used = self._windows.get(key or "", (window, 0))
            if start != window:
                start, used = window, 0
            exhausted = used >= self.rate_limit
            if consume and not exhausted:
                used += 1
            self._windows[key or ""] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": str(start + RATE_WINDOW),
        }
        return headers, exhausted

    def _route(self, request: SandboxRequest, sandbox: Sandbox, key: str) -> SandboxResponse:
        for pattern, methods in self._routes:
            match = re.fullmatch(pattern, request.path.rstrip("/") or "/")
            if not match:
                continue
            handler = methods.get(request.method)
            if handler is None:
                return plain_error(405, "method not allowed")
            return handler(request, sandbox, key, **match.groupdict())
        return not_found()

    # --- mail/send ---------------------------------------------------------------------------
    def _mail_send(self, request, sandbox: Sandbox, key: str) -> SandboxResponse:
        if "noscope" in key:
            return plain_error(403, "access forbidden")
        if len(request.body) > MAX_BODY_BYTES:
            return errors_response(413, {"message": "content too large", "field": None})
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return plain_error(400, "Bad Request")
        errors = validate_mail(body)
        if not errors and body.get("template_id"):
            errors = templates.check_template_id(sandbox, body["template_id"])
        if errors:
            return errors_response(400, *errors)

        message_id = secrets.token_urlsafe(16)
        setting = (body.get("mail_settings") or {}).get("sandbox_mode")
        sandbox_mode = isinstance(setting, dict) and setting.get("enable") is True
        rendered, notes = rendered_mail(sandbox, body, limit=self.render_limit)
        sandbox.record(
            self.name,
            request,
            key=key,
            body=body,
            message_id=message_id,
            sandbox_mode=sandbox_mode,
            rendered=rendered,
            render_notes=notes,
        )
        if not sandbox_mode:  # sandbox mode sends nothing, so the activity feed shows nothing
            activity_index(sandbox, key).add(body, message_id)
        if sandbox_mode:  # nothing sent: nothing bounces, nothing is reported
            return SandboxResponse(200, b"", {"X-Message-Id": message_id})
        target = sandbox.webhook_target(self.name, key)
        # Without a webhook target only the `+token` recipients have an outcome (no rates), and
        # the seeded draws of the targets' rates stay as they were.
        if target is not None:
            events = build_events(body, message_id, rates=target.rates, rng=self._rng)
        else:
            events = build_events(body, message_id, rates={}, rng=random.Random(0))  # noqa: S311
        group_id = (body.get("asm") or {}).get("group_id")
        suppressions.suppress_from_events(sandbox, key, events, group_id)
        if target is not None:
            for payload in event_batches(events):
                sandbox.post_webhook(
                    target.delay, target.url, payload, signed_headers(self._signing_key, payload)
                )
        return SandboxResponse(202, b"", {"X-Message-Id": message_id})

    # --- suppressions ------------------------------------------------------------------------
    def seed_suppressions(self, sandbox: Sandbox, key: str, body: dict) -> dict:
        """For tests: put addresses on the key's lists (see sendgrid_suppressions.seed)."""
        return suppressions.seed(sandbox, key, body)

    # --- account -----------------------------------------------------------------------------
    def _scopes(self, request, sandbox, key: str) -> SandboxResponse:
        scopes = [s for s in SCOPES if not (s == "mail.send" and "noscope" in key)]
        return ok(sandbox, request, key, 200, {"scopes": scopes})

    def _account(self, request, sandbox, key: str) -> SandboxResponse:
        return ok(sandbox, request, key, 200, {"type": "paid", "reputation": 100})

    def _username(self, request, sandbox, key: str) -> SandboxResponse:
        return ok(sandbox, request, key, 200, {"username": "sandbox", "user_id": 1})

    def _signed(self, request, sandbox, key: str, webhook: str | None = None) -> SandboxResponse:
        if webhook is not None and webhook != self.webhook_id:
            return not_found()
        return ok(
            sandbox, request, key, 200, {"id": self.webhook_id, "public_key": self.public_key()}
        )
