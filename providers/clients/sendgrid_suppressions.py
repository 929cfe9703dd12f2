"""SendGrid's suppression lists, read for import and written for our unsubscribes (a mixin of
`SendGridClient`, which gives it `_call`, `timeout` and `error`).

Read: bounces, blocks, spam reports and global unsubscribes (`GET /v3/suppression/<list>`,
`limit` up to 500 and `offset`, `start_time` in unix seconds), then every unsubscribe group's
suppressions (`GET /v3/asm/groups`, then `GET /v3/asm/groups/{id}/suppressions`: plain
addresses, no paging, cut into pages here). Written: a group's suppressions or the global
unsubscribes (`POST`, `{"recipient_emails": [...]}`; adding an address already there is a
no-op, so a repeated call is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.clients.suppression_types import ListedSuppression, SuppressionPage
from providers.webhooks.types import BounceKind, DeliveryEventType

PAGE_LIMIT = 500  # SendGrid's maximum `limit` on the suppression lists
# Addresses per POST to a group or the global list (SendGrid documents no maximum; this keeps
# each request small).
EMAILS_PER_POST = 1000

# The time-filtered lists, in the order they are read: (path segment, what listed it).
LISTS = (
    ("bounces", (DeliveryEventType.BOUNCED, BounceKind.HARD)),
    # Blocks are temporary refusals: a webhook reports them as soft bounces, which suppress
    # nothing; they are read so the import sees what the provider holds.
    ("blocks", (DeliveryEventType.BOUNCED, BounceKind.SOFT)),
    ("spam_reports", (DeliveryEventType.COMPLAINED, "")),
    ("unsubscribes", (DeliveryEventType.UNSUBSCRIBED, "")),
)
GROUP_PREFIX = "group:"


class SendGridSuppressions:
    def suppressions_listed(
        self, *, since: datetime | None = None, resume_from: Mapping[str, Any] | None = None
    ) -> Iterator[SuppressionPage]:
        resume = dict(resume_from or {})
        names = [name for name, _ in LISTS]
        start = resume.get("list") or names[0]
        offset = int(resume.get("offset") or 0)
        # A group's resume point comes after every time-filtered list.
        lists = LISTS[names.index(start) :] if start in names else ()
        for name, (kind, bounce_kind) in lists:
            yield from self._time_list(name, kind, bounce_kind, since=since, offset=offset)
            offset = 0
        yield from self._group_lists(start if start.startswith(GROUP_PREFIX) else "", offset)

    def _time_list(
        self, name: str, kind: str, bounce_kind: str, *, since: datetime | None, offset: int
    ) -> Iterator[SuppressionPage]:
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT, "offset": offset}
            if since is not None:
                params["start_time"] = int(since.timestamp())
            answer = self._call(
                lambda api, p=params: getattr(api.suppression, name).get(
                    query_params=p, timeout=self.timeout
                )
            )
            items = self._list_of(answer, name)
            offset += len(items)
            entries = tuple(
                ListedSuppression(
                    email=str(item["email"]),
                    type=kind,
                    bounce_kind=bounce_kind,
                    listed_at=_unix_time(item.get("created")),
                    source=name,
                    detail=str(item.get("reason") or "")[:255],
                )
                for item in items
                if isinstance(item, dict) and item.get("email")
            )
            if len(items) < PAGE_LIMIT:
                # The last page of this list: the next one starts the following list.
                yield SuppressionPage(entries, self._next_list(name))
                return
            yield SuppressionPage(entries, {"list": name, "offset": offset})

    @staticmethod
    def _next_list(name: str) -> dict[str, Any]:
        names = [n for n, _ in LISTS]
        index = names.index(name)
        if index + 1 < len(names):
            return {"list": names[index + 1], "offset": 0}
        return {"list": f"{GROUP_PREFIX}0", "offset": 0}

    def _group_lists(self, start: str, offset: int) -> Iterator[SuppressionPage]:
        first_group = int(start[len(GROUP_PREFIX) :] or 0) if start else 0
        answer = self._call(lambda api: api.asm.groups.get(timeout=self.timeout))
        groups = self._list_of(answer, "asm/groups")
        ids = sorted(int(g["id"]) for g in groups if isinstance(g, dict) and "id" in g)
        for group_id in (g for g in ids if g >= first_group):
            answer = self._call(
                lambda api, g=group_id: api.asm.groups._(g).suppressions.get(timeout=self.timeout)
            )
            listed = self._list_of(answer, f"asm/groups/{group_id}/suppressions")
            emails = [str(e) for e in listed if isinstance(e, str) and e]
            skip = offset if group_id == first_group else 0
            for begin in range(skip, len(emails), PAGE_LIMIT):
                part = emails[begin : begin + PAGE_LIMIT]
                entries = tuple(
                    ListedSuppression(
                        email=email,
                        type=DeliveryEventType.UNSUBSCRIBED,
                        source=f"unsubscribe group {group_id}",
                    )
                    for email in part
                )
                yield SuppressionPage(
                    entries, {"list": f"{GROUP_PREFIX}{group_id}", "offset": begin + len(part)}
                )

    def _list_of(self, answer, what: str) -> list:
        """The JSON array SendGrid answers; anything else is a transient error (a proxy's
        page, a truncated body): the import stops there and runs again later."""
        try:
            payload = json.loads(answer.body) if answer.body else []
        except ValueError:
            payload = None
        if not isinstance(payload, list):
            raise self.error(
                f"unexpected answer listing {what}: {str(answer.body)[:200]}", permanent=False
            )
        return payload

    def unsubscribes_add(
        self, *, emails: Sequence[str], comment: str = "", groups: Sequence[int] = ()
    ) -> int:
        """Into each of `groups` (the unsubscribe groups our promotional mail names), else
        into the global unsubscribes. SendGrid keeps no comment."""
        emails = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        calls = 0
        for begin in range(0, len(emails), EMAILS_PER_POST):
            body = {"recipient_emails": emails[begin : begin + EMAILS_PER_POST]}
            if groups:
                for group_id in groups:
                    self._call(
                        lambda api, g=group_id, b=body: api.asm.groups._(g).suppressions.post(
                            request_body=b, timeout=self.timeout
                        )
                    )
                    calls += 1
            else:
                self._call(
                    lambda api, b=body: api.asm.suppressions._("global").post(
                        request_body=b, timeout=self.timeout
                    )
                )
                calls += 1
        return calls


def _unix_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None
