"""What a provider's campaign report says, in our terms (`Capability.CAMPAIGN_REPORTS`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CampaignReportSummary:
    """Mailchimp's own counts of one campaign (its definitions: unique opens and clicks)."""

    campaign_id: str
    emails_sent: int
    hard_bounces: int
    soft_bounces: int
    unique_opens: int
    opens_total: int
    unique_clicks: int
    clicks_total: int
    unsubscribed: int
    abuse_reports: int
    send_time: datetime | None


@dataclass(frozen=True)
class MemberAction:
    """One action of one member: "open", "click", "bounce" (then `bounce_type` hard/soft),
    "unsub" or "abuse"."""

    email: str
    action: str
    occurred_at: datetime
    bounce_type: str = ""
    url: str = ""
    reason: str = ""  # an unsubscribe's, as the member gave it


@dataclass(frozen=True)
class ActivityPage:
    actions: tuple[MemberAction, ...]
    members: tuple[str, ...]  # every member of the page, with or without an action
    offset: int  # where the next page starts
    total: int
    last: bool
