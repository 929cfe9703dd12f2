"""A sent campaign's reports, read to collect its results (a mixin of
`MailchimpMarketingClient`, which gives it `_call`, `_client` and `error`).

`GET /reports/{id}`: the summary (sent, bounces, opens, clicks, unsubscribes, abuse reports).
`GET /reports/{id}/email-activity?count=&offset=`: each member's opens, clicks and bounces with
their times, at most 1,000 members a page (Mailchimp keeps at most 1,000 opens and 1,000 clicks
per member). `GET /reports/{id}/unsubscribed` (paged the same way) and
`GET /reports/{id}/abuse-reports` (the SDK passes no count nor offset: one call) name the
members who unsubscribed or complained, with the time. All 404 until the campaign went out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from providers.clients.mailchimp_suppressions import iso_time
from providers.clients.report_types import ActivityPage, CampaignReportSummary, MemberAction

ACTIVITY_PAGE = 1000  # Mailchimp's maximum `count`
ACTIVITY_FIELDS = [
    "emails.email_address",
    "emails.activity",
    "total_items",
]


class MailchimpCampaignReports:
    def campaign_report(self, campaign_id: str) -> CampaignReportSummary:
        answer = self._call(self._client().reports.get_campaign_report, campaign_id)
        bounces = answer.get("bounces") or {}
        opens = answer.get("opens") or {}
        clicks = answer.get("clicks") or {}
        return CampaignReportSummary(
            campaign_id=str(answer.get("id") or campaign_id),
            emails_sent=int(answer.get("emails_sent") or 0),
            hard_bounces=int(bounces.get("hard_bounces") or 0),
            soft_bounces=int(bounces.get("soft_bounces") or 0),
            unique_opens=int(opens.get("unique_opens") or 0),
            opens_total=int(opens.get("opens_total") or 0),
            unique_clicks=int(clicks.get("unique_clicks") or 0),
            clicks_total=int(clicks.get("clicks_total") or 0),
            unsubscribed=int(answer.get("unsubscribed") or 0),
            abuse_reports=int(answer.get("abuse_reports") or 0),
            send_time=iso_time(answer.get("send_time")) if answer.get("send_time") else None,
        )

    def campaign_email_activity(
        self, campaign_id: str, *, since: datetime | None = None, offset: int = 0
    ) -> Iterator[ActivityPage]:
        """The members' actions page by page from `offset`; `since`: only later actions."""
        reports = self._client().reports
        while True:
            params: dict = {"count": ACTIVITY_PAGE, "offset": offset, "fields": ACTIVITY_FIELDS}
            if since is not None:
                params["since"] = since.astimezone(UTC).isoformat(timespec="seconds")
            answer = self._call(reports.get_email_activity_for_campaign, campaign_id, **params)
            emails = answer.get("emails")
            if not isinstance(emails, list):
                raise self.error(
                    f"unexpected answer reading email activity: {str(answer)[:200]}",
                    permanent=False,
                )
            offset += len(emails)
            total = int(answer.get("total_items") or 0)
            actions, members = [], []
            for entry in emails:
                email = str((entry or {}).get("email_address") or "").strip().lower()
                if not email:
                    continue
                members.append(email)
                for act in entry.get("activity") or []:
                    when = iso_time(act.get("timestamp")) if act.get("timestamp") else None
                    if when is None or act.get("action") not in ("open", "click", "bounce"):
                        continue
                    actions.append(
                        MemberAction(
                            email=email,
                            action=str(act["action"]),
                            occurred_at=when,
                            bounce_type=str(act.get("type") or ""),
                            url=str(act.get("url") or ""),
                        )
                    )
            last = len(emails) < ACTIVITY_PAGE or offset >= total
            yield ActivityPage(tuple(actions), tuple(members), offset, total, last)
            if last:
                return

    def campaign_unsubscribes(self, campaign_id: str) -> Iterator[ActivityPage]:
        """Who unsubscribed through the campaign (action "unsub"), page by page."""
        reports = self._client().reports
        offset = 0
        while True:
            answer = self._call(
                reports.get_unsubscribed_list_for_campaign,
                campaign_id,
                count=ACTIVITY_PAGE,
                offset=offset,
            )
            entries = answer.get("unsubscribes")
            if not isinstance(entries, list):
                raise self.error(
                    f"unexpected answer reading unsubscribes: {str(answer)[:200]}",
                    permanent=False,
                )
            offset += len(entries)
            total = int(answer.get("total_items") or 0)
            actions = _listed_actions(entries, "unsub", "timestamp", "reason")
            last = len(entries) < ACTIVITY_PAGE or offset >= total
            yield ActivityPage(actions, (), offset, total, last)
            if last:
                return

    def campaign_abuse_reports(self, campaign_id: str) -> tuple[MemberAction, ...]:
        """Who reported the campaign as spam (action "abuse")."""
        answer = self._call(self._client().reports.get_campaign_abuse_reports, campaign_id)
        entries = answer.get("abuse_reports")
        if not isinstance(entries, list):
            raise self.error(
                f"unexpected answer reading abuse reports: {str(answer)[:200]}", permanent=False
            )
        return _listed_actions(entries, "abuse", "date", "")


def _listed_actions(entries, action: str, time_key: str, reason_key: str):
    found = []
    for entry in entries:
        email = str((entry or {}).get("email_address") or "").strip().lower()
        when = iso_time(entry.get(time_key)) if email and entry.get(time_key) else None
        if when is not None:
            reason = str(entry.get(reason_key) or "") if reason_key else ""
            found.append(MemberAction(email=email, action=action, occurred_at=when, reason=reason))
    return tuple(found)
