"""Mailchimp Transactional (Mandrill) inside the sandbox (mounted at /mandrill).

Every call is a POST to `/api/1.0/<group>/<method>.json` (or `/api/1.3/...`, the SDK's base)
with the API key inside the JSON body. Errors are HTTP 500 with
`{"status": "error", "code", "name", "message"}` even for the caller's own mistakes, as the real
service answers. Keys start with "md-" (live) or "test-" (test mode: accepted, never delivered,
no webhooks); a key containing "revoked" is refused. Recipients steer the outcome through
`+tokens` in the local part (see `mandrill_events.py`). Templates live in
`sandbox.state["mandrill"][<api key>]["templates"]`, keyed by slug. Sends are recorded with
what each recipient's email would be (`rendered`, see `mandrill_render.py`), and indexed for
`messages/search` (`mandrill_search.py`). Sending domains: `mandrill_senders.py`. The deny list
(`rejects/*`, `mandrill_rejects.py`) holds what simulated mail bounced, reported or unsubscribed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from providers.sandbox import mandrill_rejects as rejects
from providers.sandbox import mandrill_senders as senders
from providers.sandbox.core import SandboxRequest, SandboxResponse
from providers.sandbox.mandrill_events import EMAIL_RE, local_tokens, post_message_events
from providers.sandbox.mandrill_render import rendered_messages, with_rendered_subjects
from providers.sandbox.mandrill_search import DEFAULT_LIMIT, MAX_LIMIT, search_index

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

PATH_RE = re.compile(r"^/api/1\.[03]/(?P<group>[a-z]+)/(?P<method>[a-z0-9-]+)\.json$")
ASYNC_ABOVE = 10  # more recipients than this are always queued, as Mandrill does
ERROR_CODES = {"Invalid_Key": -1, "ValidationError": -2, "Invalid_Reject": 4, "Unknown_Template": 5}
FAULTS = {
    429: ("Too_Many_Requests", "Too many requests; slow down"),
    500: ("GeneralError", "An unexpected error occurred processing your request."),
    503: ("ServiceUnavailable", "Service temporarily unavailable"),
}


class MandrillError(Exception):
    def __init__(self, name: str, message: str, status: int = 500):
        super().__init__(message)
        self.name, self.message, self.status = name, message, status

    def response(self) -> SandboxResponse:
        return error_response(self.status, self.name, self.message)


def error_response(status: int, name: str, message: str) -> SandboxResponse:
    body = {"status": "error", "code": ERROR_CODES.get(name, -1), "name": name, "message": message}
    return SandboxResponse.json(status, body)


def validation(field_path: dict) -> MandrillError:
    """Mandrill's wording: the offending fields, nested as in the request, after a prefix."""
    return MandrillError("ValidationError", f"Validation error: {json.dumps(field_path)}")


def key_is_valid(key: Any) -> bool:
    return (
        isinstance(key, str) and key.startswith(("md-", "test-")) and "revoked" not in key.lower()
    )


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


def later_than(previous: str | None) -> str:
    """Now, but strictly after `previous`: Mandrill's timestamps have whole seconds, and a test
    (unlike a person) can edit a template twice within one; each edit must show as newer."""
    current = datetime.now(UTC).replace(microsecond=0)
    if previous:
        last = datetime.strptime(previous, TIME_FORMAT).replace(tzinfo=UTC)
        current = max(current, last + timedelta(seconds=1))
    return current.strftime(TIME_FORMAT)


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class MandrillApp:
    name = "mandrill"
    #: Recipients per call rendered with Handlebars (handlebars.js is slow in the sandbox).
    render_limit = 100

    def api_key(self, request: SandboxRequest) -> str | None:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        key = body.get("key") if isinstance(body, dict) else None
        return key if isinstance(key, str) else None

    def fault_response(self, status: int, request: SandboxRequest) -> SandboxResponse:
        name, message = FAULTS.get(status, ("GeneralError", "An unexpected error occurred."))
        return error_response(status, name, message)

    def handle(self, request: SandboxRequest, sandbox: Sandbox) -> SandboxResponse:
        if request.method == "HEAD":
            return SandboxResponse(200)
        match = PATH_RE.match(request.path)
        if request.method != "POST" or not match:
            return error_response(
                404 if not match else 405,
                "ValidationError",
                f"Unknown API call {request.method} {request.path}; every call is a POST to "
                "/api/1.0/<group>/<method>.json",
            )
        try:
            try:
                body = request.json()
            except (ValueError, UnicodeDecodeError):
                raise MandrillError("ValidationError", "Invalid JSON in the request body") from None
            if not isinstance(body, dict) or not key_is_valid(body.get("key")):
                raise MandrillError("Invalid_Key", "Invalid API key")
            key = body["key"]
            call = (match["group"], match["method"])
            handler = CALLS.get(call)
            if handler is None:
                raise MandrillError("ValidationError", f"Unknown method {'/'.join(call)}")
            with sandbox.lock:
                state = sandbox.state["mandrill"].setdefault(key, {"templates": {}})
                result, deliveries = handler(body, state)
        except MandrillError as error:
            return error.response()
        params = {k: v for k, v in body.items() if k != "key"}
        extra = {}
        if deliveries is not None:  # a send: rendered outside the lock (it takes a while)
            rendered, notes = rendered_messages(deliveries, limit=self.render_limit)
            extra = {"results": result, "rendered": rendered, "render_notes": notes}
            deliveries = with_rendered_subjects(deliveries, rendered)
        sandbox.record("mandrill", request, key=key, body=params, **extra)
        if deliveries and not key.startswith("test-"):
            rejects.list_from_events(sandbox, key, post_message_events(sandbox, key, deliveries))
        return SandboxResponse.json(200, result)

    def seed_suppressions(self, sandbox: Sandbox, key: str, body: dict) -> dict:
        """For tests: put addresses on the key's deny list (see mandrill_rejects.seed)."""
        return rejects.seed(sandbox, key, body)


# --- messages ----------------------------------------------------------------------------------
def _check_message(message: Any, *, template: bool) -> list[dict]:
    if not isinstance(message, dict):
        raise validation({"message": "Please enter an array"})
    to = message.get("to")
    if not isinstance(to, list) or not to:
        raise validation({"message": {"to": "Please enter an array"}})
    for index, rcpt in enumerate(to):
        if not isinstance(rcpt, dict) or not isinstance(rcpt.get("email"), str):
            raise validation({"message": {"to": {str(index): {"email": "Required"}}}})
        if rcpt.get("type", "to") not in ("to", "cc", "bcc"):
            raise validation({"message": {"to": {str(index): {"type": "Invalid choice"}}}})
    sender = message.get("from_email")
    if sender is None and not template:
        raise validation({"message": {"from_email": "Sorry, this field can't be left blank."}})
    if sender is not None and (not isinstance(sender, str) or not EMAIL_RE.match(sender)):
        raise validation({"message": {"from_email": "An email address must contain a single @"}})
    for name in ("subject", "html", "text", "from_name"):
        if name in message and not isinstance(message[name], str | None):
            raise validation({"message": {name: "Please enter a string"}})
    tags = message.get("tags", [])
    if not isinstance(tags, list):
        raise validation({"message": {"tags": "Please enter an array"}})
    for tag in tags:
        if not isinstance(tag, str) or len(tag) > 50 or tag.startswith("_"):
            raise validation({"message": {"tags": f"Invalid tag name {tag!r}"}})
    if message.get("merge_language", "mailchimp") not in ("mailchimp", "handlebars"):
        raise validation({"message": {"merge_language": "Invalid choice"}})
    variables = list(message.get("global_merge_vars") or [])
    for entry in message.get("merge_vars") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("vars", []), list):
            raise validation({"message": {"merge_vars": "Please enter an array"}})
        variables += entry.get("vars", [])
    for var in variables:
        if not isinstance(var, dict) or str(var.get("name", "")).startswith("_"):
            raise validation({"message": {"merge_vars": "Merge var names cannot start with _"}})
    if not isinstance(message.get("metadata", {}), dict):
        raise validation({"message": {"metadata": "Please enter an object"}})
    if not isinstance(message.get("recipient_metadata", []), list):
        raise validation({"message": {"recipient_metadata": "Please enter an array"}})
    return to


def _send(body: dict, state: dict, *, template: dict | None = None):
    message = body.get("message")
    to = _check_message(message, template=template is not None)
    queued = len(to) > ASYNC_ABOVE
    results, deliveries = [], []
    for rcpt in to:
        email = rcpt["email"]
        tokens = local_tokens(email)
        entry = {
            "email": email,
            "status": "queued" if queued else "sent",
            "reject_reason": None,
            "queued_reason": "multiple-recipients" if queued else None,
            "_id": uuid.uuid4().hex,
        }
        if not EMAIL_RE.match(email):
            entry.update(status="invalid", queued_reason=None)
        elif "reject" in tokens or "unsub" in tokens:
            reason = "hard-bounce" if "reject" in tokens else "unsub"
            entry.update(status="rejected", reject_reason=reason, queued_reason=None)
        results.append(entry)
        if entry["status"] != "invalid":
            deliveries.append((entry, message, template))
    search_index(state).add(results, message, template)
    return results, deliveries


def messages_send(body: dict, state: dict):
    return _send(body, state)


def messages_send_template(body: dict, state: dict):
    name = body.get("template_name")
    if not isinstance(name, str) or not name:
        raise validation({"template_name": "Sorry, this field can't be left blank."})
    if not isinstance(body.get("template_content"), list):
        raise validation({"template_content": "Please enter an array"})
    template = _template(state, name)
    if not template["published_at"]:
        raise MandrillError("Unknown_Template", f'No published template named "{name}"')
    return _send(body, state, template=copy.deepcopy(template))


def messages_search(body: dict, state: dict):
    """The key's messages matching `query` (see mandrill_search), newest first."""
    index = search_index(state)
    if not index.take_search():
        raise MandrillError("Too_Many_Requests", "Too many searches; at most 20 a minute", 429)
    limit = body.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise validation({"limit": f"Must be an integer from 1 to {MAX_LIMIT}"})
    query = body.get("query", "*")
    found = index.search(query, limit) if isinstance(query, str) else None
    if found is None:
        raise validation({"query": "The sandbox searches only u_<field>:<value> and email:<a>"})
    return found, None


# --- users -------------------------------------------------------------------------------------
def users_ping(body: dict, state: dict):
    return "PONG!", None


def users_ping2(body: dict, state: dict):
    return {"PING": "PONG!"}, None


def users_info(body: dict, state: dict):
    key = body["key"]
    stats = {"sent": 0, "hard_bounces": 0, "soft_bounces": 0, "rejects": 0, "complaints": 0}
    return {
        "username": "sandbox",
        "created_at": "2024-01-01 00:00:00",
        "public_id": hashlib.sha256(key.encode()).hexdigest()[:12],
        "reputation": 100,
        "hourly_quota": 2500,
        "backlog": 0,
        "stats": {"today": stats, "last_7_days": stats, "all_time": stats},
    }, None


# --- templates ---------------------------------------------------------------------------------
TEMPLATE_FIELDS = ("from_email", "from_name", "subject", "code", "text")


def _template(state: dict, name: Any) -> dict:
    if not isinstance(name, str) or not name:
        raise validation({"name": "Sorry, this field can't be left blank."})
    templates = state["templates"]
    found = templates.get(name) or templates.get(slugify(name))
    if found is None:
        raise MandrillError("Unknown_Template", f'No such template "{name}"')
    return found


def _apply_template_fields(template: dict, body: dict) -> None:
    for field in TEMPLATE_FIELDS:
        if field in body:
            if body[field] is not None and not isinstance(body[field], str):
                raise validation({field: "Please enter a string"})
            template[field] = body[field]
    if "labels" in body:
        labels = body["labels"]
        if not isinstance(labels, list) or len(labels) > 10:
            raise validation({"labels": "At most 10 labels"})
        if any(not isinstance(label, str) or len(label) > 100 for label in labels):
            raise validation({"labels": "Labels are strings of at most 100 characters"})
        template["labels"] = labels
    template["updated_at"] = later_than(template["updated_at"])
    if body.get("publish", True):
        _publish(template)


def _publish(template: dict) -> None:
    template.update({f"publish_{f}": template[f] for f in ("name", *TEMPLATE_FIELDS)})
    template["published_at"] = later_than(template["published_at"])


def templates_add(body: dict, state: dict):
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation({"name": "Sorry, this field can't be left blank."})
    slug = slugify(name)
    if not slug or slug in state["templates"]:
        raise MandrillError("Invalid_Template", f'A template with name "{name}" already exists')
    template = {
        "slug": slug,
        "name": name,
        "labels": [],
        **dict.fromkeys(TEMPLATE_FIELDS),
        **{f"publish_{f}": None for f in ("name", *TEMPLATE_FIELDS)},
        "published_at": None,
        "created_at": now(),
        "updated_at": None,
        "is_broken_template": False,
    }
    _apply_template_fields(template, body)
    state["templates"][slug] = template
    return copy.deepcopy(template), None


def templates_update(body: dict, state: dict):
    template = _template(state, body.get("name"))
    _apply_template_fields(template, body)
    return copy.deepcopy(template), None


def templates_publish(body: dict, state: dict):
    template = _template(state, body.get("name"))
    _publish(template)
    return copy.deepcopy(template), None


def templates_info(body: dict, state: dict):
    return copy.deepcopy(_template(state, body.get("name"))), None


def templates_delete(body: dict, state: dict):
    template = _template(state, body.get("name"))
    del state["templates"][template["slug"]]
    return copy.deepcopy(template), None


def templates_list(body: dict, state: dict):
    label = body.get("label")
    return [
        copy.deepcopy(t)
        for t in state["templates"].values()
        if label is None or label in t["labels"]
    ], None


def _senders_call(handler):
    """A sending-domain call, its refusals answered in Mandrill's ValidationError shape."""

    def call(body: dict, state: dict):
        try:
            return handler(body, state)
        except senders.DomainRefused as refused:
            raise validation({"domain": str(refused)}) from None

    return call


CALLS = {
    **{call: _senders_call(handler) for call, handler in senders.CALLS.items()},
    ("messages", "send"): messages_send,
    ("messages", "send-template"): messages_send_template,
    ("messages", "search"): messages_search,
    ("users", "ping"): users_ping,
    ("users", "ping2"): users_ping2,
    ("users", "info"): users_info,
    ("templates", "add"): templates_add,
    ("templates", "update"): templates_update,
    ("templates", "publish"): templates_publish,
    ("templates", "info"): templates_info,
    ("templates", "delete"): templates_delete,
    ("templates", "list"): templates_list,
}


def _rejects_call(handler):
    def call(body: dict, state: dict):
        try:
            return handler(body, state)
        except rejects.RejectError as error:
            raise MandrillError(error.name, error.message) from None

    return call


CALLS.update({call: _rejects_call(handler) for call, handler in rejects.CALLS.items()})
