"""Mailchimp Marketing sandbox: static segments, campaigns (create, content, send, schedule),
templates.

Sending checks what Mailchimp's send checklist checks that matters here: a subject, a from
name, a reply-to address (not needed to create a campaign, needed to send it), content and
recipients. Send and schedule answer 204 with no body, as the real API does.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime, timedelta

from providers.sandbox.mailchimp_audience import (
    BATCH_LIMIT,
    Context,
    Problem,
    audience,
    int_query,
    invalid,
    not_found,
    now,
    subscriber_hash,
)

CAMPAIGN_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")
CONTENT_SOURCES = ("html", "url", "template", "archive", "variate_contents")
SENDABLE = ("save", "paused")


# --- segments -----------------------------------------------------------------------------------
def _segment_view(aud: dict, segment: dict) -> dict:
    view = {k: v for k, v in segment.items() if k != "members"}
    view["member_count"] = len(segment["members"])
    return copy.deepcopy(view)


def _segment(ctx: Context, list_id: str, segment_id: str) -> tuple[dict, dict]:
    aud = audience(ctx, list_id)
    segment = aud["segments"].get(str(segment_id))
    if segment is None:
        raise not_found()
    return aud, segment


def create_segment(ctx: Context, list_id: str):
    body = ctx.obj()
    aud = audience(ctx, list_id)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "This value should not be blank.")
    has_static, has_options = "static_segment" in body, "options" in body
    if has_static == has_options:
        raise invalid("static_segment", "Provide either static_segment or options, not both.")
    members: list[str] = []
    if has_static:
        emails = body["static_segment"]
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise invalid("static_segment", "Schema describes array of strings.")
        # Addresses not on the list are ignored, as Mailchimp does.
        members = [h for e in emails if (h := subscriber_hash(e)) in aud["members"]]
    elif not isinstance(body["options"], dict) or body["options"].get("match") not in (
        "any",
        "all",
    ):
        raise invalid("options.match", "Value must be one of: any, all")
    segment_id = ctx.next_id()
    timestamp = now()
    segment = {
        "id": segment_id,
        "name": name,
        "type": "static" if has_static else "saved",
        "created_at": timestamp,
        "updated_at": timestamp,
        "options": body.get("options") or {},
        "list_id": aud["id"],
        "_links": [],
        "members": list(dict.fromkeys(members)),
    }
    aud["segments"][str(segment_id)] = segment
    return 200, _segment_view(aud, segment)


def get_segment(ctx: Context, list_id: str, segment_id: str):
    aud, segment = _segment(ctx, list_id, segment_id)
    return 200, _segment_view(aud, segment)


def batch_segment(ctx: Context, list_id: str, segment_id: str):
    body = ctx.obj()
    aud, segment = _segment(ctx, list_id, segment_id)
    if segment["type"] != "static":
        raise Problem(400, "Invalid Resource", "Members can only be added to static segments.")
    lists = {}
    for name in ("members_to_add", "members_to_remove"):
        emails = body.get(name, [])
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise invalid(name, "Schema describes array of strings.")
        if len(emails) > BATCH_LIMIT:
            raise invalid(name, f"Expected no more than {BATCH_LIMIT} items, found {len(emails)}")
        lists[name] = emails
    added, removed, not_on_list = [], [], []
    for email in lists["members_to_add"]:
        member = aud["members"].get(subscriber_hash(email))
        if member is None:
            not_on_list.append(email)
        elif member["id"] not in segment["members"]:
            segment["members"].append(member["id"])
            added.append(member)
    for email in lists["members_to_remove"]:
        member_id = subscriber_hash(email)
        if member_id in segment["members"]:
            segment["members"].remove(member_id)
            removed.append(aud["members"][member_id])
    segment["updated_at"] = now()
    errors = [{"email_addresses": not_on_list, "error": "Email addresses are not on the list"}]
    return 200, {
        "members_added": copy.deepcopy(added),
        "members_removed": copy.deepcopy(removed),
        "errors": errors if not_on_list else [],
        "total_added": len(added),
        "total_removed": len(removed),
        "error_count": len(not_on_list),
        "_links": [],
    }


# --- campaigns ---------------------------------------------------------------------------------
def _campaign(ctx: Context, campaign_id: str) -> dict:
    campaign = ctx.account["campaigns"].get(campaign_id)
    if campaign is None:
        raise not_found()
    return campaign


def _view(campaign: dict) -> dict:
    hidden = ("content", "sent_to", "activity")  # the sandbox's own bookkeeping
    return copy.deepcopy({k: v for k, v in campaign.items() if k not in hidden})


def _recipient_emails(ctx: Context, recipients: dict) -> list[str]:
    list_id = recipients.get("list_id")
    if not list_id:
        return []
    aud = audience(ctx, list_id)
    segment_id = (recipients.get("segment_opts") or {}).get("saved_segment_id")
    ids = aud["segments"][str(segment_id)]["members"] if segment_id else aud["members"]
    members = [aud["members"][i] for i in ids]
    return [m["email_address"] for m in members if m["status"] == "subscribed"]


def _recipient_count(ctx: Context, recipients: dict) -> int:
    return len(_recipient_emails(ctx, recipients))


def create_campaign(ctx: Context):
    body = ctx.obj()
    if body.get("type") not in CAMPAIGN_TYPES:
        raise invalid("type", f"Value must be one of: {', '.join(CAMPAIGN_TYPES)}")
    recipients = body.get("recipients") or {}
    settings = body.get("settings") or {}
    if not isinstance(recipients, dict) or not isinstance(settings, dict):
        raise invalid("recipients", "Schema describes object.")
    list_id = recipients.get("list_id")
    if not isinstance(recipients.get("segment_opts", {}), dict):
        raise invalid("recipients.segment_opts", "Schema describes object.")
    if list_id:
        if "missing" in str(list_id):
            raise invalid("recipients.list_id", "The list does not exist.")
        aud = audience(ctx, str(list_id))
        segment_id = (recipients.get("segment_opts") or {}).get("saved_segment_id")
        if segment_id is not None and str(segment_id) not in aud["segments"]:
            raise invalid("recipients.segment_opts.saved_segment_id", "The segment does not exist.")
    if "template_id" in settings and not isinstance(settings["template_id"], int):
        raise invalid("settings.template_id", "Schema describes integer.")
    campaign_id = uuid.uuid4().hex[:10]
    campaign = {
        "id": campaign_id,
        "web_id": ctx.next_id(),
        "type": body["type"],
        "create_time": now(),
        "archive_url": f"https://sandbox.example/campaigns/{campaign_id}",
        "status": "save",
        "emails_sent": 0,
        "send_time": "",
        "content_type": body.get("content_type", "template"),
        "recipients": {
            **recipients,
            "list_is_active": bool(list_id),
            "recipient_count": _recipient_count(ctx, recipients),
        },
        "settings": settings,
        "tracking": body.get("tracking") or {"opens": True, "html_clicks": True},
        "_links": [],
        "content": {},
    }
    ctx.account["campaigns"][campaign_id] = campaign
    return 200, _view(campaign)


def get_campaign(ctx: Context, campaign_id: str):
    return 200, _view(_campaign(ctx, campaign_id))


def _content_view(campaign: dict) -> dict:
    content = campaign["content"]
    return {
        "plain_text": content.get("plain_text", ""),
        "html": content.get("html", ""),
        "archive_html": content.get("html", ""),
        "_links": [],
    }


def set_content(ctx: Context, campaign_id: str):
    body = ctx.obj()
    campaign = _campaign(ctx, campaign_id)
    if campaign["status"] not in SENDABLE:
        raise Problem(400, "Invalid Resource", "The campaign content can no longer be changed.")
    sources = [name for name in CONTENT_SOURCES if name in body]
    plaintext_only = campaign["type"] == "plaintext" and not sources and "plain_text" in body
    if len(sources) != 1 and not plaintext_only:
        raise invalid("html", f"Provide exactly one of: {', '.join(CONTENT_SOURCES)}")
    content = dict(body)
    if "html" in body and "plain_text" not in body:
        content["plain_text"] = re.sub(r"<[^>]+>", "", str(body["html"])).strip()
    campaign["content"] = content
    return 200, _content_view(campaign)


def get_content(ctx: Context, campaign_id: str):
    return 200, _content_view(_campaign(ctx, campaign_id))


def _check_ready(ctx: Context, campaign: dict) -> None:
    if campaign["status"] not in SENDABLE:
        raise Problem(400, "Bad Request", f"This campaign's status is {campaign['status']}.")
    errors = [
        {"field": f"settings.{name}", "message": "This value should not be blank."}
        for name in ("subject_line", "from_name", "reply_to")
        if not campaign["settings"].get(name)
    ]
    content = campaign["content"]
    if not (content.get("html") or content.get("template") or content.get("url")) and not (
        campaign["type"] == "plaintext" and content.get("plain_text")
    ):
        errors.append({"field": "content", "message": "The campaign has no content."})
    if not _recipient_count(ctx, campaign["recipients"]):
        errors.append({"field": "recipients", "message": "The campaign has no recipients."})
    if errors:
        raise Problem(400, "Bad Request", "Your Campaign is not ready to send.", errors)


def send(ctx: Context, campaign_id: str):
    campaign = _campaign(ctx, campaign_id)
    _check_ready(ctx, campaign)
    # Who it went to: what its reports (mailchimp_reports.py) describe.
    campaign["sent_to"] = _recipient_emails(ctx, campaign["recipients"])
    campaign["emails_sent"] = len(campaign["sent_to"])
    campaign["status"] = "sent"
    campaign["send_time"] = now()
    return 204, None


def schedule(ctx: Context, campaign_id: str):
    body = ctx.obj()
    campaign = _campaign(ctx, campaign_id)
    raw = body.get("schedule_time")
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise invalid("schedule_time", "Schedule time must be an ISO 8601 date-time.") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= datetime.now(UTC):
        raise invalid("schedule_time", "Schedule time must be in the future.")
    if when.minute % 15 or when.second or when.microsecond:
        raise invalid(
            "schedule_time", "Schedule time must be on the quarter-hour (:00, :15, :30, :45)."
        )
    _check_ready(ctx, campaign)
    campaign["status"] = "schedule"
    campaign["send_time"] = when.astimezone(UTC).isoformat(timespec="seconds")
    return 204, None


# --- templates ----------------------------------------------------------------------------------
def _template(ctx: Context, template_id: str) -> dict:
    template = ctx.account["templates"].get(str(template_id))
    if template is None:
        raise not_found()
    return template


def _check_template_fields(body: dict, *, partial: bool) -> None:
    for name in ("name", "html"):
        if name in body or not partial:
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise invalid(name, "This value should not be blank.")
    if "folder_id" in body and not isinstance(body["folder_id"], str):
        raise invalid("folder_id", "Schema describes string.")


def create_template(ctx: Context):
    body = ctx.obj()
    _check_template_fields(body, partial=False)
    template_id = 10_000 + ctx.next_id()
    timestamp = now()
    template = {
        "id": template_id,
        "type": "user",
        "name": body["name"],
        "drag_and_drop": False,
        "responsive": True,
        "category": "",
        "date_created": timestamp,
        "date_edited": timestamp,
        "created_by": "sandbox",
        "edited_by": "sandbox",
        "active": True,
        "folder_id": body.get("folder_id", ""),
        "thumbnail": "",
        "share_url": "",
        "content_type": "template",
        "_links": [],
        "html": body["html"],
    }
    ctx.account["templates"][str(template_id)] = template
    return 200, _template_view(template)


def get_template(ctx: Context, template_id: str):
    return 200, _template_view(_template(ctx, template_id))


def update_template(ctx: Context, template_id: str):
    body = ctx.obj()
    template = _template(ctx, template_id)
    _check_template_fields(body, partial=True)
    for name in ("name", "html", "folder_id"):
        if name in body:
            template[name] = body[name]
    template["date_edited"] = later_than(template["date_edited"])
    return 200, _template_view(template)


def delete_template(ctx: Context, template_id: str):
    template = _template(ctx, template_id)
    del ctx.account["templates"][str(template["id"])]
    return 204, None


def list_templates(ctx: Context):
    """User templates, newest first; `count` and `offset` as everywhere in the API."""
    count = int_query(ctx, "count", 10, maximum=1000)
    offset = int_query(ctx, "offset", 0)
    ordered = sorted(ctx.account["templates"].values(), key=lambda t: t["id"], reverse=True)
    page = [_template_view(t) for t in ordered[offset : offset + count]]
    return 200, {"templates": page, "total_items": len(ordered), "_links": []}


def later_than(previous: str) -> str:
    """Now, but strictly after `previous`: `date_edited` has whole seconds, and it is the only
    sign of an edit the API gives (GET never returns the html). A test, unlike a person, can
    edit twice within a second; each edit must still show as newer."""
    current = datetime.now(UTC).replace(microsecond=0)
    last = datetime.fromisoformat(previous)
    return max(current, last + timedelta(seconds=1)).isoformat(timespec="seconds")


def _template_view(template: dict) -> dict:
    """What GET answers: the template's metadata. The real API never returns a template's html
    (campaign content does; the template endpoint does not)."""
    return copy.deepcopy({k: v for k, v in template.items() if k != "html"})
