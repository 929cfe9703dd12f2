"""SendGrid's suppression lists inside the sandbox, per API key, in
`sandbox.state["sendgrid"]["suppressions"][<key>]`.

- `GET /v3/suppression/{bounces|blocks|spam_reports|invalid_emails|unsubscribes}`: `limit`
  1..500, `offset`, `start_time` / `end_time` (unix seconds, inclusive), `email` (a prefix);
  oldest first, items shaped as SendGrid's (`{created, email, reason, status}`, spam reports
  `{created, email, ip}`, unsubscribes `{created, email}`).
- `GET|POST /v3/asm/groups`; `GET|POST /v3/asm/groups/{id}/suppressions` (plain addresses, no
  paging; a POST to an unknown group adds to the global list, as SendGrid does);
  `POST /v3/asm/suppressions/global`, `GET /v3/asm/suppressions/global/{email}` (`{}` when
  the address is not there).

Mail the sandbox accepts lands here as SendGrid would list it: a hard bounce on bounces, a
blocked one on blocks, a spam report on spam_reports, an unsubscribe on the mail's group (its
`asm.group_id`) or else the global list. Tests seed the lists through `seed` (the control
endpoint `POST /_sandbox/suppressions`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from providers.sandbox.core import SandboxRequest, SandboxResponse
from providers.sandbox.sendgrid_validation import error, errors_response, is_email, not_found, ok

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

LISTS = ("bounces", "blocks", "spam_reports", "invalid_emails", "unsubscribes")
MAX_LIMIT = 500
MAX_GROUPS = 200
# Event name (and bounce type) -> the list the address lands on.
EVENT_LISTS = {
    ("bounce", "bounce"): "bounces",
    ("bounce", "blocked"): "blocks",
    ("spamreport", None): "spam_reports",
    ("unsubscribe", None): "unsubscribes",
}


def _store(sandbox: Sandbox, key: str) -> dict[str, Any]:
    """The key's lists (call under `sandbox.lock`)."""
    every = sandbox.state["sendgrid"].setdefault("suppressions", {})
    if key not in every:
        every[key] = {**{name: {} for name in LISTS}, "groups": {}, "next_group": 1}
    return every[key]


def _item(name: str, email: str, created: int, reason: str = "", status: str = "") -> dict:
    item: dict[str, Any] = {"created": created, "email": email}
    if name in ("bounces", "blocks"):
        item.update(reason=reason, status=status)
    elif name == "invalid_emails":
        item["reason"] = reason or "Mail domain mentioned in email address is unknown"
    elif name == "spam_reports":
        item["ip"] = "192.0.2.20"
    return item


def _group(store: dict, group_id: int, name: str = "") -> dict:
    groups = store["groups"]
    if group_id not in groups:
        groups[group_id] = {
            "id": group_id,
            "name": name or f"Group {group_id}",
            "description": "",
            "is_default": False,
            "suppressions": {},  # email -> created
        }
        store["next_group"] = max(store["next_group"], group_id + 1)
    return groups[group_id]


def _add(store: dict, name: str, emails: Iterable[str], created: int, **details) -> None:
    for email in emails:
        store[name].setdefault(email.lower(), _item(name, email.lower(), created, **details))


# --- what accepted mail puts there -------------------------------------------------------------
def suppress_from_events(sandbox: Sandbox, key: str, events: list[dict], group_id: Any) -> None:
    """List the addresses the simulated events bounced, blocked, reported or unsubscribed."""
    with sandbox.lock:
        store = _store(sandbox, key)
        for event in events:
            name = event.get("event")
            listed = EVENT_LISTS.get((name, event.get("type")))
            if listed is None:
                continue
            email, created = str(event["email"]), int(event.get("timestamp") or time.time())
            if listed == "unsubscribes" and isinstance(group_id, int):
                _group(store, group_id)["suppressions"].setdefault(email.lower(), created)
                continue
            details = {}
            if listed in ("bounces", "blocks"):
                details = {"reason": event.get("reason", ""), "status": event.get("status", "")}
            _add(store, listed, [email], created, **details)


def seed(sandbox: Sandbox, key: str, body: dict) -> dict:
    """Put `emails` on `list` (one of LISTS, or "group" with `group_id`), `created` (unix
    seconds) now unless given; `reason` / `status` for bounces and blocks."""
    emails = body.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValueError("emails must be a list of addresses")
    listed = body.get("list")
    created = int(body.get("created") or time.time())
    with sandbox.lock:
        store = _store(sandbox, key)
        if listed == "group":
            group = _group(store, int(body["group_id"]), str(body.get("name") or ""))
            for email in emails:
                group["suppressions"].setdefault(email.lower(), created)
        elif listed in LISTS:
            details = {k: str(body[k]) for k in ("reason", "status") if k in body}
            _add(store, listed, emails, created, **details)
        else:
            raise ValueError(f"list must be one of {', '.join(LISTS)} or group")
    return {"listed": len(emails)}


# --- the API ---------------------------------------------------------------------------------
def _int(request: SandboxRequest, name: str, default: int | None) -> int | None:
    values = request.query.get(name)
    if not values or values[-1] == "":
        return default
    return int(values[-1])


def list_suppressions(request, sandbox: Sandbox, key: str, name: str) -> SandboxResponse:
    try:
        limit = _int(request, "limit", MAX_LIMIT)
        offset = _int(request, "offset", 0)
        start = _int(request, "start_time", None)
        end = _int(request, "end_time", None)
    except ValueError:
        message = "limit, offset, start_time and end_time are integers"
        return errors_response(400, error(message, None))
    if not 1 <= limit <= MAX_LIMIT:
        return errors_response(400, error(f"limit must be between 1 and {MAX_LIMIT}", "limit"))
    if offset < 0:
        return errors_response(400, error("offset must not be negative", "offset"))
    prefix = (request.query.get("email") or [""])[-1].lower().replace("%", "")
    with sandbox.lock:
        items = [
            dict(item)
            for item in _store(sandbox, key)[name].values()
            if (start is None or item["created"] >= start)
            and (end is None or item["created"] <= end)
            and item["email"].startswith(prefix)
        ]
    items.sort(key=lambda item: (item["created"], item["email"]))
    return SandboxResponse.json(200, items[offset : offset + limit])


def list_groups(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    with sandbox.lock:
        groups = [
            {
                **{k: v for k, v in group.items() if k != "suppressions"},
                "unsubscribes": len(group["suppressions"]),
            }
            for group in _store(sandbox, key)["groups"].values()
        ]
    return SandboxResponse.json(200, sorted(groups, key=lambda g: g["id"]))


def create_group(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    body = _json_object(request)
    name = body.get("name") if body is not None else None
    if not isinstance(name, str) or not 1 <= len(name) <= 30:
        return errors_response(400, error("name is required (at most 30 characters)", "name"))
    with sandbox.lock:
        store = _store(sandbox, key)
        if len(store["groups"]) >= MAX_GROUPS:
            return errors_response(400, error(f"at most {MAX_GROUPS} groups", None))
        if any(g["name"] == name for g in store["groups"].values()):
            taken = "Another group with this name already exists"
            return errors_response(400, error(taken, "name"))
        group = _group(store, store["next_group"], name)
        group.update(
            description=str(body.get("description") or ""),
            is_default=bool(body.get("is_default")),
        )
        answer = {k: v for k, v in group.items() if k != "suppressions"}
    return ok(sandbox, request, key, 201, answer, body=body)


def group_suppressions(request, sandbox: Sandbox, key: str, group: str) -> SandboxResponse:
    with sandbox.lock:
        found = _store(sandbox, key)["groups"].get(int(group))
        emails = list(found["suppressions"]) if found else None
    if emails is None:
        return not_found()
    return SandboxResponse.json(200, emails)


def add_group_suppressions(request, sandbox: Sandbox, key: str, group: str) -> SandboxResponse:
    emails, problem = _recipient_emails(request)
    if problem is not None:
        return problem
    now = int(time.time())
    with sandbox.lock:
        store = _store(sandbox, key)
        found = store["groups"].get(int(group))
        if found is None:  # SendGrid adds them to the global list instead
            _add(store, "unsubscribes", emails, now)
        else:
            for email in emails:
                found["suppressions"].setdefault(email.lower(), now)
    body = {"recipient_emails": emails}
    return ok(sandbox, request, key, 201, body, body=body, group_known=found is not None)


def add_global(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    emails, problem = _recipient_emails(request)
    if problem is not None:
        return problem
    with sandbox.lock:
        _add(_store(sandbox, key), "unsubscribes", emails, int(time.time()))
    body = {"recipient_emails": emails}
    return ok(sandbox, request, key, 201, body, body=body)


def get_global(request, sandbox: Sandbox, key: str, email: str) -> SandboxResponse:
    with sandbox.lock:
        listed = email.lower() in _store(sandbox, key)["unsubscribes"]
    return SandboxResponse.json(200, {"recipient_email": email} if listed else {})


def _json_object(request: SandboxRequest) -> dict | None:
    try:
        body = request.json() if request.body else {}
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _recipient_emails(request: SandboxRequest) -> tuple[list[str], SandboxResponse | None]:
    body = _json_object(request)
    emails = body.get("recipient_emails") if body is not None else None
    if not isinstance(emails, list) or not emails:
        return [], errors_response(
            400, error("recipient_emails is required and must be a list", "recipient_emails")
        )
    bad = [e for e in emails if not is_email(e)]
    if bad:
        return [], errors_response(
            400, error(f"invalid email address: {bad[0]!r}", "recipient_emails")
        )
    return list(emails), None


ROUTES = [
    (f"/v3/suppression/(?P<name>{'|'.join(LISTS)})", {"GET": list_suppressions}),
    ("/v3/asm/groups", {"GET": list_groups, "POST": create_group}),
    (
        r"/v3/asm/groups/(?P<group>\d+)/suppressions",
        {"GET": group_suppressions, "POST": add_group_suppressions},
    ),
    ("/v3/asm/suppressions/global", {"POST": add_global}),
    ("/v3/asm/suppressions/global/(?P<email>[^/]+)", {"GET": get_global}),
]
