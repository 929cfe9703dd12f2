"""The audience's cleaned and unsubscribed members, read for import, and our unsubscribes
written to it (a mixin of `MailchimpMarketingClient`, which gives it `_call`, `_client`,
`_audience` and `member_upsert`).

Read: `GET /lists/{id}/members?status=cleaned|unsubscribed&count=&offset=` (at most 1,000 per
page), only members changed since the last import (`since_last_changed`). Written: one member
PUT per address, status unsubscribed (idempotent; a later audience sync leaves an address on
our suppression list unsubscribed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.clients.suppression_types import ListedSuppression, SuppressionPage
from providers.webhooks.types import BounceKind, DeliveryEventType

PAGE_COUNT = 1000  # Mailchimp's maximum `count`
# A cleaned member bounced hard (Mailchimp cleans for abuse too, which the list does not tell).
STATUSES = (
    ("cleaned", (DeliveryEventType.BOUNCED, BounceKind.HARD)),
    ("unsubscribed", (DeliveryEventType.UNSUBSCRIBED, "")),
)
FIELDS = [
    "members.email_address",
    "members.status",
    "members.last_changed",
    "members.unsubscribe_reason",
    "total_items",
]


class MailchimpAudienceSuppressions:
    def suppressions_listed(
        self, *, since: datetime | None = None, resume_from: Mapping[str, Any] | None = None
    ) -> Iterator[SuppressionPage]:
        audience = self._audience("")
        resume = dict(resume_from or {})
        if resume.get("done"):  # stopped after the last page: nothing left
            return
        names = [name for name, _ in STATUSES]
        start = resume.get("status") if resume.get("status") in names else names[0]
        offset = int(resume.get("offset") or 0)
        for status, (kind, bounce_kind) in STATUSES[names.index(start) :]:
            while True:
                params: dict[str, Any] = {
                    "status": status,
                    "count": PAGE_COUNT,
                    "offset": offset,
                    "fields": FIELDS,
                }
                if since is not None:
                    params["since_last_changed"] = since.astimezone(UTC).isoformat(
                        timespec="seconds"
                    )
                answer = self._call(self._client().lists.get_list_members_info, audience, **params)
                members = answer.get("members")
                if not isinstance(members, list):
                    raise self.error(
                        f"unexpected answer listing {status} members: {str(answer)[:200]}",
                        permanent=False,
                    )
                offset += len(members)
                entries = tuple(
                    ListedSuppression(
                        email=str(m["email_address"]),
                        type=kind,
                        bounce_kind=bounce_kind,
                        listed_at=iso_time(m.get("last_changed")),
                        source=f"audience {audience} ({status})",
                        detail=str(m.get("unsubscribe_reason") or "")[:255],
                    )
                    for m in members
                    if isinstance(m, dict) and m.get("email_address")
                )
                if len(members) < PAGE_COUNT:
                    index = names.index(status) + 1
                    following = {"status": names[index], "offset": 0} if index < len(names) else {}
                    yield SuppressionPage(entries, following or {"done": True})
                    break
                yield SuppressionPage(entries, {"status": status, "offset": offset})
            offset = 0

    def unsubscribes_add(
        self, *, emails: Sequence[str], comment: str = "", groups: Sequence[int] = ()
    ) -> int:
        calls = 0
        for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
            self.member_upsert(email=email, status="unsubscribed", status_if_new="unsubscribed")
            calls += 1
        return calls


def iso_time(value: Any) -> datetime | None:
    """Mailchimp's ISO 8601 timestamps ("2026-05-01T10:00:00+00:00"), always timezone-aware."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
