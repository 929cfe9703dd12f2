"""Mandrill's deny list (`rejects`), read for import and written for our unsubscribes (a mixin
of `MandrillClient`, which gives it `_call` and `error`).

`rejects/list` answers at most 1,000 entries and has no paging: a deny list longer than that is
read in part (logged). `rejects/add` takes one address per call and is idempotent (an address
already listed stays, `added` false)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.clients.suppression_types import ListedSuppression, SuppressionPage
from providers.webhooks.types import BounceKind, DeliveryEventType

logger = logging.getLogger(__name__)

LIST_LIMIT = 1000
COMMENT_LIMIT = 255
# A reject's reason as a webhook would report what listed it; "custom" (and anything else) is
# an entry made by hand at Mandrill.
REASONS = {
    "hard-bounce": (DeliveryEventType.BOUNCED, BounceKind.HARD),
    # A soft bounce's entry expires by itself: it suppresses nothing here either.
    "soft-bounce": (DeliveryEventType.BOUNCED, BounceKind.SOFT),
    "spam": (DeliveryEventType.COMPLAINED, ""),
    "unsub": (DeliveryEventType.UNSUBSCRIBED, ""),
}


# Starts the comment of every address `unsubscribes_add` lists: read back, such an entry is an
# unsubscribe (promotional mail only), not a "custom" entry made by hand (all mail), so an
# unsubscribe mirrored here and imported again stays what it was. (Whether Mandrill returns
# the comment as `detail` is unconfirmed; the sandbox does.)
MIRRORED_MARK = "[unsubscribe]"


class MandrillRejects:
    def suppressions_listed(
        self, *, since: datetime | None = None, resume_from: Mapping[str, Any] | None = None
    ) -> Iterator[SuppressionPage]:
        """The whole deny list, unexpired entries only, in one page (no time filter)."""
        if (resume_from or {}).get("done"):  # stopped after its one page: nothing left
            return
        answer = self._call("rejects", "list", {"include_expired": False})
        if answer is None:  # the SDK turns an empty list (falsy JSON) into "no body"
            answer = []
        if not isinstance(answer, list):
            raise self.error(
                f"unexpected answer to rejects/list: {str(answer)[:200]}", permanent=False
            )
        if len(answer) >= LIST_LIMIT:
            logger.warning(
                "account %s: Mandrill listed its maximum of %s rejects; any beyond are not read",
                self.account.pk,
                LIST_LIMIT,
            )
        entries = []
        for item in answer:
            if not isinstance(item, dict) or not item.get("email") or item.get("expired"):
                continue
            kind, bounce_kind = REASONS.get(
                str(item.get("reason") or ""), (DeliveryEventType.DENYLIST_ADDED, "")
            )
            if str(item.get("detail") or "").startswith(MIRRORED_MARK):
                kind, bounce_kind = DeliveryEventType.UNSUBSCRIBED, ""
            entries.append(
                ListedSuppression(
                    email=str(item["email"]),
                    type=kind,
                    bounce_kind=bounce_kind,
                    listed_at=mandrill_time(item.get("created_at")),
                    source=f"rejects ({item.get('reason') or 'custom'})",
                    detail=str(item.get("detail") or "")[:255],
                )
            )
        yield SuppressionPage(tuple(entries), {"done": True})

    def unsubscribes_add(
        self, *, emails: Sequence[str], comment: str = "", groups: Sequence[int] = ()
    ) -> int:
        """One `rejects/add` per address (Mandrill takes no more per call)."""
        calls = 0
        for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
            body = {"email": email, "comment": f"{MIRRORED_MARK} {comment}".strip()[:COMMENT_LIMIT]}
            self._call("rejects", "add", body)
            calls += 1
        return calls


def mandrill_time(value: Any) -> datetime | None:
    """Mandrill's timestamps: "YYYY-MM-DD HH:MM:SS" in UTC (sometimes with fractions)."""
    text = str(value or "")
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
