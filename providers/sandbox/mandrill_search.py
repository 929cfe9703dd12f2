"""Mandrill's `messages/search` inside the sandbox.

Every recipient a send accepted or rejected (not the invalid ones, which Mandrill never
stores) is indexed per API key as it is sent: its address and message id (strings the send's
answer holds anyway), and recipient numbers per metadata value and per address; the message
itself is the request's, already kept by the sandbox's records.

Supported queries: `u_<field>:<value>` (metadata, message level overlaid by
`recipient_metadata`), `email:<address>`, or `*` / none for everything; values may be quoted.
`limit` is 1..1000 (default 100); results come newest first. Mandrill's documented 20
searches per minute per key is enforced (429 Too_Many_Requests).
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from providers.sandbox.sendgrid_activity import Postings, add_posting, postings  # same index

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
SEARCHES_PER_MINUTE = 20
_CLAUSE = re.compile(r'(?P<field>u_[A-Za-z0-9_.-]+|email):(?P<value>"[^"]*"|\S+)')


@dataclass(frozen=True)
class _Send:
    message: dict  # the request's message, as the sandbox's records keep it (not copied)
    template: str | None
    ts: int


@dataclass
class SearchIndex:
    """One key's searchable mail. Recipients are numbered as they are sent (higher is newer);
    send `i` holds recipients `starts[i]` up to `starts[i + 1]`."""

    sends: list[_Send] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    # Per recipient: its address and message id, strings the send's answer holds anyway.
    emails: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)
    by_metadata: dict[str, dict[str, Postings]] = field(default_factory=dict)
    by_email: dict[str, Postings] = field(default_factory=dict)
    window: tuple[int, int] = (0, 0)  # (minute start, searches in it)

    def add(self, results: list[dict], message: dict, template: dict | None) -> None:
        """Index one send's answer (called under the sandbox lock)."""
        self.sends.append(_Send(message, (template or {}).get("slug"), int(time.time())))
        self.starts.append(len(self.emails))
        shared, own = message.get("metadata") or {}, recipient_values(message)
        for result in results:
            if result["status"] == "invalid":  # never stored by Mandrill
                continue
            number = len(self.emails)
            email = result["email"]
            self.emails.append(email)
            self.ids.append(result["_id"])
            if result["status"] == "rejected":
                self.rejected.add(number)
            lower = email.lower()
            add_posting(self.by_email, email if lower == email else lower, number)
            for key, value in {**shared, **own.get(lower, {})}.items():
                add_posting(self.by_metadata.setdefault(str(key), {}), str(value), number)

    def take_search(self) -> bool:
        """Count one search; False once the minute's allowance is spent."""
        now = int(time.time())
        start, used = self.window
        if start != now - now % 60:
            start, used = now - now % 60, 0
        self.window = (start, used + 1)
        return used < SEARCHES_PER_MINUTE

    def search(self, query: str, limit: int) -> list[dict[str, Any]] | None:
        """The newest `limit` matches, or None when the sandbox does not understand `query`."""
        query = query.strip()
        if query in ("", "*"):
            numbers = range(len(self.emails) - 1, -1, -1)
        elif match := _CLAUSE.fullmatch(query):
            value = match["value"].strip('"')
            if match["field"] == "email":
                found = self.by_email.get(value.lower())
            else:
                found = self.by_metadata.get(match["field"][2:], {}).get(value)
            numbers = reversed(postings(found))
        else:
            return None
        # Each send's recipient_metadata, looked up once per search, not once per recipient.
        values: dict[int, dict[str, dict]] = {}
        return [self._entry(n, values) for n in islice(numbers, limit)]

    def _entry(self, number: int, values: dict[int, dict[str, dict]]) -> dict[str, Any]:
        send_no = bisect_right(self.starts, number) - 1
        send, email = self.sends[send_no], self.emails[number]
        message = send.message
        if send_no not in values:
            values[send_no] = recipient_values(message)
        own = values[send_no].get(email.lower(), {})
        return {
            "ts": send.ts,
            "_id": self.ids[number],
            "sender": message.get("from_email"),
            "template": send.template,
            "subject": message.get("subject"),
            "email": email,
            "tags": list(message.get("tags") or []),
            "opens": 0,
            "clicks": 0,
            "state": "rejected" if number in self.rejected else "sent",
            "metadata": {**(message.get("metadata") or {}), **own},
            "opens_detail": [],
            "clicks_detail": [],
            "smtp_events": [],
            "resends": [],
            "subaccount": message.get("subaccount"),
        }


def recipient_values(message: dict) -> dict[str, dict]:
    """Lower-cased address -> its `recipient_metadata` values (overlaying the message's)."""
    return {
        str(entry.get("rcpt", "")).lower(): entry["values"]
        for entry in message.get("recipient_metadata") or []
        if isinstance(entry, dict) and isinstance(entry.get("values"), dict)
    }


def search_index(state: dict) -> SearchIndex:
    """The key's index in its sandbox state (forgotten on reset)."""
    return state.setdefault("search", SearchIndex())
