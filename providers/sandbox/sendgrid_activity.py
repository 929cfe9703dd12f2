"""SendGrid's Email Activity Feed (`GET /v3/messages`) inside the sandbox.

Accepted mail (outside sandbox mode) is indexed per API key as it arrives: the address of each
recipient (a string the sandbox's records hold anyway), and recipient numbers per custom
argument value and per address, so a sandbox holding 100,000+ recipients stays small (about
12 MB per 100,000 recipients with a unique id each). Supported `query` forms, joined by `AND`:
`unique_args['k']="v"`, `to_email="x"`; no query lists the most recent mail. `limit` is
1..1000 (default 10); results come newest first, every one "delivered".
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from providers.sandbox.core import SandboxRequest, SandboxResponse
from providers.sandbox.sendgrid_events import recipients
from providers.sandbox.sendgrid_validation import error, errors_response, ok, plain_error

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
_QUOTED = r'"(?P<value>(?:[^"\\]|\\.)*)"'
_ARG_CLAUSE = re.compile(r"unique_args\['(?P<key>[^']*)'\]\s*=\s*" + _QUOTED)
_EMAIL_CLAUSE = re.compile(r"to_email\s*=\s*" + _QUOTED)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


# Recipient numbers per value: a bare int while there is one (correlation ids and most
# addresses are unique, and a list each would double the index's size).
Postings = int | list[int]


def add_posting(index: dict[str, Postings], value: str, number: int) -> None:
    found = index.get(value)
    if found is None:
        index[value] = number
    elif isinstance(found, int):
        index[value] = [found, number]
    else:
        found.append(number)


def postings(found: Postings | None) -> list[int]:
    if found is None:
        return []
    return [found] if isinstance(found, int) else found


@dataclass(frozen=True)
class _Message:
    message_id: str
    from_email: str
    subject: str
    timestamp: int


@dataclass
class ActivityIndex:
    """What one API key's mail the feed can find. Recipients are numbered as they arrive, so a
    higher number is newer; message `i` holds recipients `starts[i]` up to `starts[i + 1]`."""

    messages: list[_Message] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # the only per-recipient entry
    by_arg: dict[str, dict[str, Postings]] = field(default_factory=dict)
    by_email: dict[str, Postings] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: Mapping[str, Any], message_id: str) -> None:
        shared = body.get("custom_args") or {}
        sender = str((body.get("from") or {}).get("email") or "")
        subject = str(body.get("subject") or "")
        with self.lock:
            self.messages.append(_Message(message_id, sender, subject, int(time.time())))
            self.starts.append(len(self.emails))
            for _, personalization, email in recipients(body):
                number = len(self.emails)
                self.emails.append(email)
                lower = email.lower()
                add_posting(self.by_email, email if lower == email else lower, number)
                # Personalization custom_args win over the message's, as in SendGrid's events.
                for key, value in {**shared, **(personalization.get("custom_args") or {})}.items():
                    add_posting(self.by_arg.setdefault(key, {}), str(value), number)

    def search(self, clauses: list[tuple[str, str, str]], limit: int) -> list[dict[str, Any]]:
        """The newest `limit` recipients matching every (kind, key, value) clause."""
        with self.lock:
            if not clauses:
                numbers: Iterable[int] = range(len(self.emails) - 1, -1, -1)
            else:
                matches = [set(self._numbers(*clause)) for clause in clauses]
                numbers = sorted(set.intersection(*matches), reverse=True)
            return [self._entry(n) for n in islice(numbers, limit)]

    def _numbers(self, kind: str, key: str, value: str) -> list[int]:
        if kind == "to_email":
            return postings(self.by_email.get(value.lower()))
        return postings(self.by_arg.get(key, {}).get(value))

    def _entry(self, number: int) -> dict[str, Any]:
        email = self.emails[number]
        message = self.messages[bisect_right(self.starts, number) - 1]
        return {
            "from_email": message.from_email,
            "msg_id": f"{message.message_id}.filterdrecv-sandbox-{number}.0",
            "subject": message.subject,
            "to_email": email,
            "status": "delivered",
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": datetime.fromtimestamp(message.timestamp, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }


def activity_index(sandbox: Sandbox, key: str) -> ActivityIndex:
    """The key's index in the sandbox's state (forgotten on reset)."""
    with sandbox.lock:
        indexes = sandbox.state["sendgrid"].setdefault("activity", {})
        return indexes.setdefault(key, ActivityIndex())


def parse_query(query: str) -> list[tuple[str, str, str]] | None:
    """(kind, key, value) per clause, or None when the sandbox does not understand it."""
    clauses = []
    for part in _AND.split(query.strip()) if query.strip() else []:
        if match := _ARG_CLAUSE.fullmatch(part.strip()):
            clauses.append(("unique_args", match["key"], _unescape(match["value"])))
        elif match := _EMAIL_CLAUSE.fullmatch(part.strip()):
            clauses.append(("to_email", "", _unescape(match["value"])))
        else:
            return None
    return clauses


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def messages(request: SandboxRequest, sandbox: Sandbox, key: str) -> SandboxResponse:
    """`GET /v3/messages`: the key's mail matching `query`, newest first."""
    if "noactivity" in key:  # an account without the Email Activity add-on
        return plain_error(403, "access forbidden")
    raw_limit = (request.query.get("limit") or [str(DEFAULT_LIMIT)])[0]
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= MAX_LIMIT:
        return errors_response(400, error(f"limit must be between 1 and {MAX_LIMIT}", "limit"))
    clauses = parse_query((request.query.get("query") or [""])[0])
    if clauses is None:
        return errors_response(400, error("invalid query", "query"))
    found = activity_index(sandbox, key).search(clauses, limit)
    asked = {name: values[0] for name, values in request.query.items()}
    return ok(sandbox, request, key, 200, {"messages": found}, query=asked, results=len(found))
