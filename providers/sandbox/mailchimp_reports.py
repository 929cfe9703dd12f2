"""Mailchimp Marketing sandbox: campaign reports of sent campaigns.

`GET /reports/{campaign_id}` (the summary) and `GET /reports/{campaign_id}/email-activity`
(one entry per member the campaign went to, its opens, clicks and bounces, paged with
`count` (at most 1,000) and `offset`; `since` keeps actions after a time); `…/unsubscribed`
(paged the same way) and `…/abuse-reports` list the members who left or complained. The
activity is
drawn once per member from a generator seeded by the campaign id and the address, so a report
asked for twice says the same thing, as the real one does between two new actions. Members
whose local part carries `+bounce` bounce hard, `+soft` bounce soft, `+click` open and click,
`+open` open, `+unsub` open and unsubscribe, `+abuse` open and report abuse, `+quiet` do
nothing (what follows the tag's letters is ignored): tests name
their outcomes that way.
"""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime, timedelta

from providers.sandbox.mailchimp_audience import (
    Context,
    int_query,
    invalid,
    not_found,
    subscriber_hash,
)

PAGE_LIMIT = 1000
# What a member without a `+outcome` tag draws (Mailchimp-like averages of a retail list).
RATES = {
    "bounce_hard": 0.02,
    "bounce_soft": 0.02,
    "open": 0.4,
    "click_of_open": 0.3,
    "unsub_of_open": 0.05,
    "abuse_of_open": 0.01,
}
# Kept with the member's actions, listed by their own endpoints, never in email-activity.
OWN_LISTS = ("unsub", "abuse")


def _sent(ctx: Context, campaign_id: str) -> dict:
    campaign = ctx.account["campaigns"].get(campaign_id)
    if campaign is None:
        raise not_found()
    if campaign["status"] != "sent":  # a report exists once the campaign went out
        raise not_found()
    return campaign


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _draw(campaign: dict, email: str) -> list[dict]:
    """The member's actions, oldest first (kept on the campaign: drawn once)."""
    drawn = campaign.setdefault("activity", {})
    if email in drawn:
        return drawn[email]
    rng = random.Random(f"{campaign['id']}:{email}")  # noqa: S311 - simulated readers
    sent = _time(campaign["send_time"])
    local = email.split("@", 1)[0]
    tag = re.sub(r"[^a-z].*$", "", local.split("+", 1)[1]) if "+" in local else ""
    roll = rng.random()
    actions: list[dict] = []
    if tag == "bounce" or (not tag and roll < RATES["bounce_hard"]):
        actions.append({"action": "bounce", "type": "hard", "timestamp": _iso(sent)})
    elif tag == "soft" or (not tag and roll < RATES["bounce_hard"] + RATES["bounce_soft"]):
        actions.append({"action": "bounce", "type": "soft", "timestamp": _iso(sent)})
    elif tag in ("open", "click", "unsub", "abuse") or (not tag and rng.random() < RATES["open"]):
        opened = sent + timedelta(minutes=rng.randint(1, 600))
        actions.append({"action": "open", "timestamp": _iso(opened), "ip": "198.51.100.7"})
        if tag == "click" or (not tag and rng.random() < RATES["click_of_open"]):
            clicked = opened + timedelta(seconds=rng.randint(5, 900))
            actions.append(
                {
                    "action": "click",
                    "timestamp": _iso(clicked),
                    "url": "https://shop.example/offer",
                    "ip": "198.51.100.7",
                }
            )
        later = opened + timedelta(minutes=rng.randint(1, 60))
        if tag == "unsub" or (not tag and rng.random() < RATES["unsub_of_open"]):
            actions.append({"action": "unsub", "timestamp": _iso(later), "reason": "N/A"})
        elif tag == "abuse" or (not tag and rng.random() < RATES["abuse_of_open"]):
            actions.append({"action": "abuse", "timestamp": _iso(later)})
    drawn[email] = actions
    return actions


def email_activity(ctx: Context, campaign_id: str):
    campaign = _sent(ctx, campaign_id)
    count = int_query(ctx, "count", 10, maximum=PAGE_LIMIT)
    offset = int_query(ctx, "offset", 0)
    since_raw = (ctx.request.query.get("since") or [""])[0]
    try:
        since = _time(since_raw) if since_raw else None
    except ValueError:
        raise invalid("since", "since must be an ISO 8601 date-time.") from None
    list_id = campaign["recipients"].get("list_id", "")
    emails = campaign.get("sent_to") or []
    page = []
    for email in emails[offset : offset + count]:
        actions = [
            a
            for a in _draw(campaign, email)
            if a["action"] not in OWN_LISTS and (since is None or _time(a["timestamp"]) > since)
        ]
        page.append(
            {
                "campaign_id": campaign_id,
                "list_id": list_id,
                "list_is_active": True,
                "email_id": subscriber_hash(email),
                "email_address": email,
                "activity": copy.deepcopy(actions),
                "_links": [],
            }
        )
    return 200, {
        "emails": page,
        "campaign_id": campaign_id,
        "total_items": len(emails),
        "_links": [],
    }


def campaign_report(ctx: Context, campaign_id: str):
    campaign = _sent(ctx, campaign_id)
    emails = campaign.get("sent_to") or []
    actions = {email: _draw(campaign, email) for email in emails}
    bounces = {"hard": 0, "soft": 0}
    listed = {name: 0 for name in OWN_LISTS}
    opens_total = clicks_total = unique_opens = unique_clicks = 0
    for acts in actions.values():
        for act in acts:
            if act["action"] == "bounce":
                bounces[act["type"]] += 1
            elif act["action"] in listed:
                listed[act["action"]] += 1
        opens = sum(1 for a in acts if a["action"] == "open")
        clicks = sum(1 for a in acts if a["action"] == "click")
        opens_total, clicks_total = opens_total + opens, clicks_total + clicks
        unique_opens += bool(opens)
        unique_clicks += bool(clicks)
    delivered = len(emails) - bounces["hard"] - bounces["soft"]
    settings = campaign["settings"]
    return 200, {
        "id": campaign_id,
        "campaign_title": settings.get("title", ""),
        "type": campaign["type"],
        "list_id": campaign["recipients"].get("list_id", ""),
        "list_is_active": True,
        "list_name": "Sandbox audience",
        "subject_line": settings.get("subject_line", ""),
        "preview_text": settings.get("preview_text", ""),
        "emails_sent": len(emails),
        "abuse_reports": listed["abuse"],
        "unsubscribed": listed["unsub"],
        "send_time": campaign["send_time"],
        "bounces": {
            "hard_bounces": bounces["hard"],
            "soft_bounces": bounces["soft"],
            "syntax_errors": 0,
        },
        "forwards": {"forwards_count": 0, "forwards_opens": 0},
        "opens": {
            "opens_total": opens_total,
            "unique_opens": unique_opens,
            "open_rate": unique_opens / delivered if delivered else 0,
            "last_open": "",
        },
        "clicks": {
            "clicks_total": clicks_total,
            "unique_clicks": unique_clicks,
            "unique_subscriber_clicks": unique_clicks,
            "click_rate": unique_clicks / delivered if delivered else 0,
            "last_click": "",
        },
        "_links": [],
    }


def _listed(ctx: Context, campaign_id: str, action: str) -> tuple[dict, list[tuple[str, dict]]]:
    campaign = _sent(ctx, campaign_id)
    found = [
        (email, act)
        for email in campaign.get("sent_to") or []
        for act in _draw(campaign, email)
        if act["action"] == action
    ]
    return campaign, found


def unsubscribed(ctx: Context, campaign_id: str):
    """`GET /reports/{id}/unsubscribed`: who unsubscribed through the campaign, paged."""
    count = int_query(ctx, "count", 10, maximum=PAGE_LIMIT)
    offset = int_query(ctx, "offset", 0)
    campaign, found = _listed(ctx, campaign_id, "unsub")
    page = [
        {
            "email_id": subscriber_hash(email),
            "email_address": email,
            "merge_fields": {},
            "vip": False,
            "timestamp": act["timestamp"],
            "reason": act.get("reason", ""),
            "campaign_id": campaign_id,
            "list_id": campaign["recipients"].get("list_id", ""),
            "list_is_active": True,
            "_links": [],
        }
        for email, act in found[offset : offset + count]
    ]
    return 200, {
        "unsubscribes": page,
        "campaign_id": campaign_id,
        "total_items": len(found),
        "_links": [],
    }


def abuse_reports(ctx: Context, campaign_id: str):
    """`GET /reports/{id}/abuse-reports`: every complaint (the SDK pages none)."""
    campaign, found = _listed(ctx, campaign_id, "abuse")
    reports = [
        {
            "id": index + 1,
            "date": act["timestamp"],
            "email_id": subscriber_hash(email),
            "email_address": email,
            "merge_fields": {},
            "vip": False,
            "campaign_id": campaign_id,
            "list_id": campaign["recipients"].get("list_id", ""),
            "list_is_active": True,
            "_links": [],
        }
        for index, (email, act) in enumerate(found)
    ]
    return 200, {
        "abuse_reports": reports,
        "campaign_id": campaign_id,
        "total_items": len(reports),
        "_links": [],
    }
