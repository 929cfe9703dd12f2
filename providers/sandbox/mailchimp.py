"""Mailchimp Marketing API 3.0 inside the sandbox (mounted at /mailchimp, routes under /3.0).

What the real service does and the client relies on: HTTP Basic auth with the key as password,
problem+json error bodies (always with a body: the SDK returns empty error responses instead of
raising), 204 for tags / send / schedule / delete-permanent, members keyed by md5 of the
lower-cased email, at most 500 members per batch call and at most 10 requests in flight per key.
Audiences spring into existence when first referenced (ids containing "missing" do not).
State lives in `sandbox.state["mailchimp"][<api key>]`. Members and merge fields are in
`mailchimp_audience.py`; segments, campaigns and templates in `mailchimp_campaigns.py`.

Audience webhooks: with a target for the key, every upserted member whose local part carries
`+unsubscribe`, `+cleaned` or `+profile` (or who draws one by the target's `rates`) produces one
form-encoded POST with PHP-bracketed keys, as Mailchimp sends them. No signature: the target URL
carries the secret. Without a target, a `+unsubscribe` or `+cleaned` member still becomes
unsubscribed or cleaned (what `GET /lists/{id}/members?status=` lists); tests seed such
members through `seed_suppressions`.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import threading
import uuid
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from providers.sandbox import mailchimp_audience as audience
from providers.sandbox import mailchimp_campaigns as campaigns
from providers.sandbox import mailchimp_reports as reports
from providers.sandbox.core import SandboxRequest, SandboxResponse, key_hint
from providers.sandbox.mailchimp_audience import STATUSES, Context, Problem, problem_response

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_IN_FLIGHT = 10
KEY_RE = re.compile(r"^[0-9a-f]+-[a-z]+[0-9]+$")

FAULT_TITLES = {
    429: ("Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."),
    500: (
        "Internal Server Error",
        "An unexpected internal error has occurred. Please contact Support for more information.",
    ),
    503: ("Service Unavailable", "This service is temporarily unavailable. Please try again."),
}


def basic_auth_password(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def key_is_valid(key: str | None) -> bool:
    return bool(key) and "revoked" not in key and bool(KEY_RE.match(key))


# --- account and lists --------------------------------------------------------------------------
def ping(ctx: Context):
    return 200, {"health_status": "Everything's Chimpy!"}


def root(ctx: Context):
    return 200, {
        "account_id": ctx.account["account_id"],
        "login_id": ctx.account["account_id"][:10],
        "account_name": "ESP Sandbox",
        "email": "owner@sandbox.example",
        "username": "sandbox",
        "role": "owner",
        "member_since": ctx.account["created_at"],
        "pricing_plan_type": "monthly",
        "account_timezone": "UTC",
        "pro_enabled": False,
        "total_subscribers": sum(
            1
            for audience_ in ctx.account["lists"].values()
            for m in audience_["members"].values()
            if m["status"] == "subscribed"
        ),
        "_links": [],
    }


def get_list(ctx: Context, list_id: str):
    aud = audience.audience(ctx, list_id)
    counts = {s: 0 for s in STATUSES}
    for member in aud["members"].values():
        counts[member["status"]] = counts.get(member["status"], 0) + 1
    return 200, {
        "id": aud["id"],
        "web_id": aud["web_id"],
        "name": aud["name"],
        "date_created": aud["date_created"],
        "email_type_option": False,
        "stats": {
            "member_count": counts["subscribed"],
            "unsubscribe_count": counts["unsubscribed"],
            "cleaned_count": counts["cleaned"],
        },
        "_links": [],
    }


# (method, path pattern below /3.0, handler(ctx, **groups) -> (status, payload)).
ROUTES = [
    ("GET", r"/ping", ping),
    ("GET", r"/", root),
    ("GET", r"/lists/(?P<list_id>[^/]+)", get_list),
    ("POST", r"/lists/(?P<list_id>[^/]+)", audience.batch_members),
    ("PUT", r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)", audience.put_member),
    ("GET", r"/lists/(?P<list_id>[^/]+)/members", audience.list_members),
    ("GET", r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)", audience.get_member),
    ("PATCH", r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)", audience.patch_member),
    (
        "DELETE",
        r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)",
        audience.archive_member,
    ),
    (
        "POST",
        r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)/actions/delete-permanent",
        audience.delete_member_permanent,
    ),
    (
        "POST",
        r"/lists/(?P<list_id>[^/]+)/members/(?P<slot>[^/]+)/tags",
        audience.member_tags,
    ),
    ("POST", r"/lists/(?P<list_id>[^/]+)/merge-fields", audience.add_merge_field),
    ("GET", r"/lists/(?P<list_id>[^/]+)/merge-fields", audience.list_merge_fields),
    ("POST", r"/lists/(?P<list_id>[^/]+)/segments", campaigns.create_segment),
    (
        "GET",
        r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)",
        campaigns.get_segment,
    ),
    (
        "POST",
        r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)",
        campaigns.batch_segment,
    ),
    ("POST", r"/campaigns", campaigns.create_campaign),
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)", campaigns.get_campaign),
    ("PUT", r"/campaigns/(?P<campaign_id>[^/]+)/content", campaigns.set_content),
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)/content", campaigns.get_content),
    ("POST", r"/campaigns/(?P<campaign_id>[^/]+)/actions/send", campaigns.send),
    ("POST", r"/campaigns/(?P<campaign_id>[^/]+)/actions/schedule", campaigns.schedule),
    ("GET", r"/reports/(?P<campaign_id>[^/]+)", reports.campaign_report),
    ("GET", r"/reports/(?P<campaign_id>[^/]+)/email-activity", reports.email_activity),
    ("GET", r"/reports/(?P<campaign_id>[^/]+)/unsubscribed", reports.unsubscribed),
    ("GET", r"/reports/(?P<campaign_id>[^/]+)/abuse-reports", reports.abuse_reports),
    ("POST", r"/templates", campaigns.create_template),
    ("GET", r"/templates", campaigns.list_templates),
    ("GET", r"/templates/(?P<template_id>[^/]+)", campaigns.get_template),
    ("PATCH", r"/templates/(?P<template_id>[^/]+)", campaigns.update_template),
    ("DELETE", r"/templates/(?P<template_id>[^/]+)", campaigns.delete_template),
]
COMPILED_ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in ROUTES]


class MailchimpMarketingApp:
    name = "mailchimp"

    def __init__(self):
        # In-flight requests per key. Kept on the app, not in `sandbox.state`: a reset must not
        # forget requests that are still being answered.
        self._in_flight: dict[str, int] = {}
        # Per key: the most requests ever in flight at once, counting one refused for being over
        # the limit (so a client that overshoots shows MAX_IN_FLIGHT + 1), and how many were.
        self._peak: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()  # noqa: S311 - simulated recipient behaviour

    # --- the ProviderApp protocol ------------------------------------------------------------
    def api_key(self, request: SandboxRequest) -> str | None:
        """The key of a request. The server calls this first for every request (before faults,
        even slow ones), so this is where the request starts to count as in flight."""
        key = basic_auth_password(request.headers.get("Authorization"))
        if key and "_mc_slot" not in vars(request):
            self._enter(request, key)
        return key

    def handle(self, request: SandboxRequest, sandbox: Sandbox) -> SandboxResponse:
        try:
            return self._handle(request, sandbox)
        finally:
            self._leave(request)  # before the answer is written, so a client may send the next

    def fault_response(self, status: int, request: SandboxRequest) -> SandboxResponse:
        self._leave(request)
        title, detail = FAULT_TITLES.get(status, ("Error", "An error occurred."))
        return problem_response(status, title, detail)

    # --- in-flight accounting ----------------------------------------------------------------
    def in_flight(self) -> int:
        """Requests being answered now, over every key (a slow fault counts while it sleeps)."""
        with self._lock:
            return sum(self._in_flight.values())

    def concurrency(self) -> dict[str, dict[str, int]]:
        """Per key hint: requests in flight now, the peak since the last reset, 429s for it."""
        with self._lock:
            keys = set(self._peak) | set(self._in_flight)
            return {
                key_hint(key): {
                    "in_flight": self._in_flight.get(key, 0),
                    "peak": self._peak.get(key, 0),
                    "refused": self._refused.get(key, 0),
                }
                for key in sorted(keys)
            }

    def reset_concurrency(self) -> None:
        with self._lock:
            self._peak.clear()
            self._refused.clear()

    def _enter(self, request: SandboxRequest, key: str) -> None:
        with self._lock:
            count = self._in_flight.get(key, 0)
            self._peak[key] = max(self._peak.get(key, 0), count + 1)
            if count >= MAX_IN_FLIGHT:
                self._refused[key] = self._refused.get(key, 0) + 1
                vars(request)["_mc_slot"] = None  # over the limit: answered 429, not counted
                return
            self._in_flight[key] = count + 1
        # Also released when the request object goes away (a dropped connection never reaches
        # handle() or fault_response()).
        vars(request)["_mc_slot"] = weakref.finalize(request, self._release, key)

    def _release(self, key: str) -> None:
        with self._lock:
            self._in_flight[key] = max(0, self._in_flight.get(key, 1) - 1)

    def _leave(self, request: SandboxRequest) -> None:
        slot = vars(request).get("_mc_slot")
        if slot is not None:
            slot()  # a finalize runs at most once

    # --- routing -----------------------------------------------------------------------------
    def _handle(self, request: SandboxRequest, sandbox: Sandbox) -> SandboxResponse:
        key = self.api_key(request)
        if vars(request).get("_mc_slot", False) is None:  # over the in-flight limit
            return problem_response(429, *FAULT_TITLES[429])
        if not key_is_valid(key):
            return problem_response(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        if request.path != "/3.0" and not request.path.startswith("/3.0/"):
            return _not_found()
        path = request.path[len("/3.0") :].rstrip("/") or "/"
        matched = [(m, route.fullmatch(path), h) for m, route, h in COMPILED_ROUTES]
        matched = [(m, match, h) for m, match, h in matched if match]
        if not matched:
            return _not_found()
        for method, match, handler in matched:
            if method == request.method:
                return self._run(request, sandbox, key, handler, match.groupdict())
        allowed = ", ".join(sorted({m for m, _, _ in matched}))
        response = problem_response(
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for "
            "this resource's available methods.",
        )
        response.headers["Allow"] = allowed
        return response

    def _run(self, request, sandbox, key, handler, params) -> SandboxResponse:
        try:
            body = _parse_body(request)
            with sandbox.lock:
                account = sandbox.state["mailchimp"].setdefault(key, new_account_state())
                ctx = Context(request=request, body=body, account=account)
                status, payload = handler(ctx, **params)
        except Problem as problem:
            return problem.response()
        if request.method != "GET":
            extra = {"query": request.query} if request.query else {}
            sandbox.record("mailchimp", request, key=key, body=body, **extra)
        if ctx.upserted:
            self._post_audience_events(sandbox, key, ctx.upserted)
        if status == 204:
            return SandboxResponse(204)
        return SandboxResponse.json(status, payload)

    def seed_suppressions(self, sandbox: Sandbox, key: str, body: dict) -> dict:
        """For tests: members of `audience` with `status` (see audience.seed_members)."""
        with sandbox.lock:
            account = sandbox.state["mailchimp"].setdefault(key, new_account_state())
            ctx = Context(request=None, body=body, account=account)
            try:
                return {"listed": audience.seed_members(ctx, body)}
            except Problem as problem:
                raise ValueError(problem.detail) from None

    # --- audience webhooks -------------------------------------------------------------------
    def _post_audience_events(self, sandbox: Sandbox, key: str, members: list[dict]) -> None:
        target = sandbox.webhook_target("mailchimp", key)
        for member in members:
            # Without a webhook target only the `+token` members do something (no rates).
            event = _event_for(member, target.rates if target else {}, self._rng)
            if event is None:
                continue
            with sandbox.lock:
                if event in ("unsubscribe", "cleaned"):  # what the subscriber did sticks
                    member["status"] = "unsubscribed" if event == "unsubscribe" else "cleaned"
                fields = audience_event_fields(event, member)
            if target is None:
                continue
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "MailChimp",
            }
            sandbox.post_webhook(target.delay, target.url, urlencode(fields).encode(), headers)


def new_account_state() -> dict[str, Any]:
    return {
        "lists": {},
        "campaigns": {},
        "templates": {},
        "next_id": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "account_id": uuid.uuid4().hex[:25],
    }


def _parse_body(request: SandboxRequest) -> Any:
    if request.method not in ("POST", "PUT", "PATCH") or not request.body.strip():
        return None
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise Problem(
            400, "Bad Request", "We encountered an unspecified JSON parsing error."
        ) from None


def _not_found() -> SandboxResponse:
    return problem_response(404, "Resource Not Found", "The requested resource could not be found.")


# --- audience webhooks ------------------------------------------------------------------------
EVENT_TOKENS = {"unsubscribe": "unsubscribe", "cleaned": "cleaned", "profile": "profile"}


def _event_for(member: dict, rates: dict[str, float], rng: random.Random) -> str | None:
    local = member["email_address"].partition("@")[0].lower()
    for token in local.split("+")[1:]:
        if token in EVENT_TOKENS:
            return EVENT_TOKENS[token]
    for event in ("unsubscribe", "cleaned", "profile"):
        if rng.random() < float(rates.get(event, 0.0)):
            return event
    return None


def audience_event_fields(event: str, member: dict) -> list[tuple[str, str]]:
    """The form fields of one audience event, PHP-bracketed, as Mailchimp posts them."""
    fields = [
        ("type", event),
        ("fired_at", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
    ]
    if event == "cleaned":
        return [
            *fields,
            ("data[list_id]", member["list_id"]),
            ("data[campaign_id]", ""),
            ("data[reason]", "hard"),
            ("data[email]", member["email_address"]),
        ]
    if event == "unsubscribe":
        fields += [("data[action]", "unsub"), ("data[reason]", "manual")]
    fields += [
        ("data[id]", member["id"]),
        ("data[email]", member["email_address"]),
        ("data[email_type]", member["email_type"]),
        ("data[list_id]", member["list_id"]),
        ("data[web_id]", str(member["web_id"])),
        ("data[merges][EMAIL]", member["email_address"]),
    ]
    for tag, value in member["merge_fields"].items():
        if not isinstance(value, dict):
            fields.append((f"data[merges][{tag}]", str(value)))
    fields.append(("data[ip_opt]", member["ip_opt"]))
    if event == "unsubscribe":
        fields.append(("data[campaign_id]", ""))
    return fields
