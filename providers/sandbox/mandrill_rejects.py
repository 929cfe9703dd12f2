"""Mandrill's deny list (`rejects/add`, `rejects/list`, `rejects/delete`) inside the sandbox, per
API key in `state["rejects"]` (email -> entry shaped as Mandrill's).

`rejects/list` answers at most 1,000 entries (no paging), unexpired ones unless
`include_expired`; a soft bounce's entry expires after a week (`expires_at`), as Mandrill's do;
an entry added through the API (`custom`) never expires. Simulated mail lands here as Mandrill
would list it: a hard bounce, a soft bounce, a spam complaint, an unsubscribe. Tests seed it
through `seed` (the control endpoint `POST /_sandbox/suppressions`).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

LIST_LIMIT = 1000
COMMENT_LIMIT = 255
REASONS = ("hard-bounce", "soft-bounce", "spam", "unsub", "custom")
EVENT_REASONS = {
    "hard_bounce": "hard-bounce",
    "soft_bounce": "soft-bounce",
    "spam": "spam",
    "unsub": "unsub",
}
SOFT_BOUNCE_EXPIRES = timedelta(days=7)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _rejects(state: dict) -> dict[str, dict]:
    return state.setdefault("rejects", {})


def _entry(email: str, reason: str, detail: str, at: datetime, *, expired: bool = False) -> dict:
    expires = at + SOFT_BOUNCE_EXPIRES if reason == "soft-bounce" else None
    return {
        "email": email,
        "reason": reason,
        "detail": detail,
        "created_at": at.strftime(TIME_FORMAT),
        "last_event_at": at.strftime(TIME_FORMAT),
        "expires_at": expires.strftime(TIME_FORMAT) if expires else None,
        "expired": expired,
        "sender": None,
        "subaccount": None,
    }


class RejectError(Exception):
    """Mandrill's error `name` and `message` (the app answers it as its other errors)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message


def _error(name: str, message: str) -> RejectError:
    return RejectError(name, message)


def rejects_add(body: dict, state: dict):
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise _error("ValidationError", 'Validation error: {"email":"Not a valid email address"}')
    comment = body.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > COMMENT_LIMIT:
        raise _error("ValidationError", 'Validation error: {"comment":"At most 255 characters"}')
    rejects = _rejects(state)
    added = email.lower() not in rejects
    if added:
        rejects[email.lower()] = _entry(email.lower(), "custom", comment, datetime.now(UTC))
    return {"email": email, "added": added}, None


def rejects_list(body: dict, state: dict):
    wanted = body.get("email")
    include_expired = bool(body.get("include_expired"))
    found = [
        copy.deepcopy(entry)
        for entry in _rejects(state).values()
        if (include_expired or not entry["expired"]) and (not wanted or entry["email"] == wanted)
    ]
    return found[:LIST_LIMIT], None


def rejects_delete(body: dict, state: dict):
    email = str(body.get("email") or "").lower()
    if _rejects(state).pop(email, None) is None:
        raise _error(
            "Invalid_Reject", "Email address is not in the rejection list and is not invalid"
        )
    return {"email": email, "deleted": True, "subaccount": None}, None


CALLS = {
    ("rejects", "add"): rejects_add,
    ("rejects", "list"): rejects_list,
    ("rejects", "delete"): rejects_delete,
}


def list_from_events(sandbox: Sandbox, key: str, events: list[dict]) -> None:
    """Put the addresses the simulated events bounced, reported or unsubscribed on the list."""
    now = datetime.now(UTC)
    with sandbox.lock:
        rejects = _rejects(sandbox.state["mandrill"].setdefault(key, {"templates": {}}))
        for event in events:
            reason = EVENT_REASONS.get(event.get("event"))
            if reason is None:
                continue
            email = str(event["msg"]["email"]).lower()
            detail = str(event["msg"].get("diag") or "")
            rejects.setdefault(email, _entry(email, reason, detail, now))


def seed(sandbox: Sandbox, key: str, body: dict[str, Any]) -> dict:
    """Put `emails` on the key's list with `reason` (one of REASONS); `expired` marks them
    expired (listed only with `include_expired`)."""
    emails = body.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValueError("emails must be a list of addresses")
    reason = body.get("reason", "hard-bounce")
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    now = datetime.now(UTC)
    with sandbox.lock:
        rejects = _rejects(sandbox.state["mandrill"].setdefault(key, {"templates": {}}))
        for email in emails:
            rejects[email.lower()] = _entry(
                email.lower(),
                reason,
                str(body.get("detail") or ""),
                now,
                expired=bool(body.get("expired")),
            )
    return {"listed": len(emails)}
