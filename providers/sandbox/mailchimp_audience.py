"""Mailchimp Marketing sandbox: audiences (lists), members, merge fields; the shared helpers.

Handlers take a `Context` plus the path's groups and return `(status, payload)`, or raise
`Problem` for a problem+json error. They run under `sandbox.lock` and return copies, never the
state itself (the response is serialised after the lock is released).
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from providers.sandbox.core import SandboxRequest, SandboxResponse

PROBLEM_JSON = "application/problem+json; charset=utf-8"
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
INVALID_DETAIL = (
    "The resource submitted could not be validated. For field-specific details, see the "
    "'errors' array."
)
BATCH_LIMIT = 500
MEMBERS_PAGE_LIMIT = 1000
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
MERGE_TYPES = ("text", "number", "address", "phone", "date", "url", "imageurl", "radio",
               "dropdown", "birthday", "zip")  # fmt: skip
DEFAULT_MERGE_FIELDS = (  # tag, name, type: what a new Mailchimp audience starts with
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
    ("BIRTHDAY", "Birthday", "birthday"),
)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TAG_RE = re.compile(r"^[A-Z0-9_]{1,10}$")


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors

    def response(self) -> SandboxResponse:
        return problem_response(self.status, self.title, self.detail, self.errors)


def problem_response(
    status: int, title: str, detail: str, errors: list | None = None
) -> SandboxResponse:
    body = {
        "type": ERROR_DOCS,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors:
        body["errors"] = errors
    return SandboxResponse.json(status, body, content_type=PROBLEM_JSON)


def invalid(field_name: str, message: str) -> Problem:
    return Problem(
        400, "Invalid Resource", INVALID_DETAIL, [{"field": field_name, "message": message}]
    )


def int_query(ctx: Context, name: str, default: int, *, maximum: int | None = None) -> int:
    """A whole-number query parameter (count, offset), refused as Mailchimp refuses it."""
    raw = (ctx.request.query.get(name) or [str(default)])[0]
    if not raw.isdigit() or (maximum is not None and int(raw) > maximum):
        raise invalid(
            name, f"{name} must be a whole number" + (f" up to {maximum}" if maximum else "")
        )
    return int(raw)


def not_found() -> Problem:
    return Problem(404, "Resource Not Found", "The requested resource could not be found.")


@dataclass
class Context:
    request: SandboxRequest
    body: Any
    account: dict[str, Any]
    upserted: list[dict] = field(default_factory=list)  # members, for audience webhooks

    def obj(self) -> dict:
        if not isinstance(self.body, dict):
            raise Problem(400, "Invalid Resource", "The request body must be a JSON object.")
        return self.body

    def flag(self, name: str) -> bool:
        return self.request.query.get(name, ["false"])[-1].lower() == "true"

    def next_id(self) -> int:
        value = self.account["next_id"]
        self.account["next_id"] += 1
        return value


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode("utf-8"), usedforsecurity=False).hexdigest()


def audience(ctx: Context, list_id: str) -> dict:
    """The audience, created on first reference like a pre-existing one; "missing" ids 404."""
    if "missing" in list_id:
        raise not_found()
    lists = ctx.account["lists"]
    if list_id not in lists:
        lists[list_id] = {
            "id": list_id,
            "web_id": ctx.next_id(),
            "name": f"Audience {list_id}",
            "date_created": now(),
            "members": {},
            "merge_fields": {},
            "segments": {},
        }
        for tag, name, type_ in DEFAULT_MERGE_FIELDS:
            _store_merge_field(ctx, lists[list_id], tag=tag, name=name, type_=type_)
    return lists[list_id]


# --- members ------------------------------------------------------------------------------------
def _member_key(slot: str) -> str:
    """The path slot is the md5 hash; the API also accepts the address itself."""
    return subscriber_hash(slot) if "@" in slot else slot.lower()


def _existing(ctx: Context, list_id: str, slot: str) -> dict:
    member = audience(ctx, list_id)["members"].get(_member_key(slot))
    if member is None:
        raise not_found()
    return member


def _validate_merge_fields(aud: dict, values: Any, *, new: bool, skip: bool) -> dict:
    """Known tags only (unknown ones are ignored, as Mailchimp does); typed values checked."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise invalid("merge_fields", "Schema describes object, NULL found instead")
    known = aud["merge_fields"]
    clean = {}
    for tag, value in values.items():
        spec = known.get(str(tag).upper())
        if spec is None:
            continue
        if spec["type"] == "number" and value not in ("", None):
            try:
                float(value)
            except (TypeError, ValueError):
                raise invalid(spec["tag"], "Please enter a number") from None
        clean[spec["tag"]] = value
    if new and not skip:
        missing = [t for t, s in known.items() if s["required"] and clean.get(t) in ("", None)]
        if missing:
            errors = [{"field": tag, "message": "Please enter a value"} for tag in missing]
            raise Problem(400, "Invalid Resource", "Your merge fields were invalid.", errors)
    return clean


def _status(value: Any, field_name: str) -> str:
    if value not in STATUSES:
        raise invalid(field_name, f"Value must be one of: {', '.join(STATUSES)}")
    return value


def _new_member(ctx: Context, aud: dict, email: str, status: str) -> dict:
    timestamp = now()
    return {
        "id": subscriber_hash(email),
        "email_address": email,
        "unique_email_id": uuid.uuid4().hex[:10],
        "contact_id": uuid.uuid4().hex,
        "web_id": ctx.next_id(),
        "email_type": "html",
        "status": status,
        "merge_fields": {tag: "" for tag in aud["merge_fields"]},
        "interests": {},
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": "",
        "ip_opt": "127.0.0.1",
        "timestamp_opt": timestamp,
        "member_rating": 2,
        "last_changed": timestamp,
        "language": "",
        "vip": False,
        "source": "API - Generic",
        "tags_count": 0,
        "tags": [],
        "list_id": aud["id"],
        "_links": [],
    }


def _apply(member: dict, body: dict, merge_fields: dict) -> None:
    member["merge_fields"].update(merge_fields)
    for name in ("email_type", "language", "vip", "interests"):
        if name in body:
            member[name] = body[name]
    member["last_changed"] = now()


def _set_tags(member: dict, names: list[str], *, replace: bool) -> None:
    current = [] if replace else list(member["tags"])
    have = {t["name"] for t in current}
    for name in names:
        if name not in have:
            current.append({"id": zlib.crc32(name.encode()) % 10**6, "name": name})
            have.add(name)
    member["tags"] = current
    member["tags_count"] = len(current)


def put_member(ctx: Context, list_id: str, slot: str):
    body = ctx.obj()
    aud = audience(ctx, list_id)
    email = body.get("email_address")
    if not isinstance(email, str) or not email:
        raise invalid("email_address", "This value should not be blank.")
    if not EMAIL_RE.match(email):
        raise Problem(400, "Invalid Resource", "Please provide a valid email address.")
    if subscriber_hash(email) != _member_key(slot):
        raise invalid("email_address", "The subscriber hash does not match the email address.")
    member = aud["members"].get(subscriber_hash(email))
    if "status" in body:
        _status(body["status"], "status")
    if member is None:
        if "status_if_new" not in body:
            raise invalid("status_if_new", "This value should not be blank.")
        status = _status(body["status_if_new"], "status_if_new")
        merge = _validate_merge_fields(
            aud, body.get("merge_fields"), new=True, skip=ctx.flag("skip_merge_validation")
        )
        member = _new_member(ctx, aud, email, status)
        if isinstance(body.get("tags"), list):  # only honoured when the member is new
            _set_tags(member, [str(t) for t in body["tags"]], replace=True)
        aud["members"][member["id"]] = member
    else:
        if "status_if_new" in body:
            _status(body["status_if_new"], "status_if_new")
        merge = _validate_merge_fields(aud, body.get("merge_fields"), new=False, skip=True)
        if "status" in body:
            member["status"] = body["status"]
    _apply(member, body, merge)
    ctx.upserted.append(member)
    return 200, copy.deepcopy(member)


def _query_int(ctx: Context, name: str, default: int) -> int:
    try:
        return int(ctx.request.query.get(name, [str(default)])[-1])
    except ValueError:
        raise invalid(name, f"{name} must be an integer") from None


def list_members(ctx: Context, list_id: str):
    """Members, oldest first: `status`, `since_last_changed` (ISO 8601), `count` (at most
    1,000) and `offset`, as Mailchimp pages them."""
    aud = audience(ctx, list_id)
    count, offset = _query_int(ctx, "count", 10), _query_int(ctx, "offset", 0)
    if not 1 <= count <= MEMBERS_PAGE_LIMIT:
        raise invalid("count", f"count must be between 1 and {MEMBERS_PAGE_LIMIT}")
    if offset < 0:
        raise invalid("offset", "offset must not be negative")
    status = ctx.request.query.get("status", [""])[-1]
    if status:
        _status(status, "status")
    since = ctx.request.query.get("since_last_changed", [""])[-1]
    if since:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            raise invalid("since_last_changed", "Use ISO 8601 time format") from None
    members = [
        m
        for m in aud["members"].values()
        if (not status or m["status"] == status)
        and (not since or datetime.fromisoformat(m["last_changed"]) >= since_at)
    ]
    return 200, {
        "members": copy.deepcopy(members[offset : offset + count]),
        "list_id": aud["id"],
        "total_items": len(members),
        "_links": [],
    }


def seed_members(ctx: Context, body: dict) -> int:
    """For tests: members of `audience` with `status` (unsubscribed, cleaned...)."""
    emails, status = body.get("emails"), _status(body.get("status"), "status")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValueError("emails must be a list of addresses")
    aud = audience(ctx, str(body.get("audience") or ""))
    for email in emails:
        member = aud["members"].get(subscriber_hash(email)) or _new_member(ctx, aud, email, status)
        member["status"] = status
        aud["members"][member["id"]] = member
    return len(emails)


def get_member(ctx: Context, list_id: str, slot: str):
    return 200, copy.deepcopy(_existing(ctx, list_id, slot))


def patch_member(ctx: Context, list_id: str, slot: str):
    body = ctx.obj()
    member = _existing(ctx, list_id, slot)
    aud = audience(ctx, list_id)
    merge = _validate_merge_fields(aud, body.get("merge_fields"), new=False, skip=True)
    if "status" in body:
        member["status"] = _status(body["status"], "status")
    _apply(member, body, merge)
    return 200, copy.deepcopy(member)


def archive_member(ctx: Context, list_id: str, slot: str):
    member = _existing(ctx, list_id, slot)
    member["status"] = "archived"
    return 204, None


def delete_member_permanent(ctx: Context, list_id: str, slot: str):
    member = _existing(ctx, list_id, slot)
    del audience(ctx, list_id)["members"][member["id"]]
    return 204, None


def member_tags(ctx: Context, list_id: str, slot: str):
    body = ctx.obj()
    member = _existing(ctx, list_id, slot)
    tags = body.get("tags")
    if not isinstance(tags, list):
        raise invalid("tags", "Schema describes array, NULL found instead")
    for tag in tags:
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise invalid("tags", "Tag names must be 1 to 100 characters.")
        if tag.get("status") not in ("active", "inactive"):
            raise invalid("tags", "Tag status must be 'active' or 'inactive'.")
    inactive = {t["name"] for t in tags if t["status"] == "inactive"}
    member["tags"] = [t for t in member["tags"] if t["name"] not in inactive]
    _set_tags(member, [t["name"] for t in tags if t["status"] == "active"], replace=False)
    return 204, None


def batch_members(ctx: Context, list_id: str):
    body = ctx.obj()
    aud = audience(ctx, list_id)
    members = body.get("members")
    if not isinstance(members, list):
        raise invalid("members", "Schema describes array, NULL found instead")
    if len(members) > BATCH_LIMIT:
        raise invalid("members", f"Expected no more than {BATCH_LIMIT} items, found {len(members)}")
    created, updated, errors = [], [], []
    for item in members:
        try:
            member, existed = _batch_member(ctx, aud, item, body)
        except _BatchError as exc:
            errors.append(exc.entry(item.get("email_address") if isinstance(item, dict) else ""))
            continue
        (updated if existed else created).append(member)
        ctx.upserted.append(member)
    return 200, {
        "new_members": copy.deepcopy(created),
        "updated_members": copy.deepcopy(updated),
        "errors": errors,
        "total_created": len(created),
        "total_updated": len(updated),
        "error_count": len(errors),
        "_links": [],
    }


def _batch_member(ctx: Context, aud: dict, item: Any, body: dict) -> tuple[dict, bool]:
    email = item.get("email_address") if isinstance(item, dict) else None
    if not isinstance(email, str) or not EMAIL_RE.match(email):
        raise _BatchError(
            "ERROR_GENERIC",
            f"{email} looks fake or invalid, please enter a real email address.",
            "email_address",
        )
    status = item.get("status")
    if status not in STATUSES:
        raise _BatchError("ERROR_GENERIC", "Invalid status", "status")
    existing = aud["members"].get(subscriber_hash(email))
    if existing is not None and not body.get("update_existing"):
        raise _BatchError(
            "ERROR_CONTACT_EXISTS",
            f"{email} is already a list member, do you want to update? please provide "
            "update_existing:'true' in the request body",
        )
    skip = ctx.flag("skip_merge_validation")
    try:
        merge = _validate_merge_fields(
            aud, item.get("merge_fields"), new=existing is None, skip=skip
        )
    except Problem as problem:
        raise _BatchError("ERROR_GENERIC", problem.detail, "merge_fields") from None
    member = existing or _new_member(ctx, aud, email, status)
    member["status"] = status
    _apply(member, item, merge)
    if isinstance(item.get("tags"), list):
        _set_tags(member, [str(t) for t in item["tags"]], replace=bool(body.get("sync_tags")))
    aud["members"][member["id"]] = member
    return member, existing is not None


class _BatchError(Exception):
    def __init__(self, code: str, message: str, field_name: str = ""):
        super().__init__(message)
        self.code, self.message, self.field_name = code, message, field_name

    def entry(self, email: Any) -> dict:
        return {
            "email_address": email if isinstance(email, str) else "",
            "error": self.message,
            "error_code": self.code,
            "field": self.field_name,
            "field_message": self.message if self.field_name else "",
        }


# --- merge fields -------------------------------------------------------------------------------
def _store_merge_field(ctx: Context, aud: dict, *, tag: str, name: str, type_: str, **extra):
    spec = {
        "merge_id": len(aud["merge_fields"]) + 1,
        "tag": tag,
        "name": name,
        "type": type_,
        "required": bool(extra.get("required", False)),
        "default_value": extra.get("default_value", ""),
        "public": bool(extra.get("public", False)),
        "display_order": len(aud["merge_fields"]) + 2,
        "options": extra.get("options") or {},
        "help_text": extra.get("help_text", ""),
        "list_id": aud["id"],
        "_links": [],
    }
    aud["merge_fields"][tag] = spec
    for member in aud["members"].values():
        member["merge_fields"].setdefault(tag, "")
    return spec


def add_merge_field(ctx: Context, list_id: str):
    body = ctx.obj()
    aud = audience(ctx, list_id)
    name, type_ = body.get("name"), body.get("type")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "This value should not be blank.")
    if type_ not in MERGE_TYPES:
        raise invalid("type", f"Value must be one of: {', '.join(MERGE_TYPES)}")
    tag = body.get("tag") or re.sub(r"[^A-Z0-9]", "", name.upper())[:10] or "MMERGE"
    if not TAG_RE.match(tag):
        raise invalid("tag", "Merge tags are 1 to 10 capital letters, digits or underscores.")
    if tag in aud["merge_fields"]:
        raise Problem(
            400,
            "Invalid Resource",
            f'A Merge Field with the tag "{tag}" already exists for this list.',
        )
    optional = ("required", "default_value", "public", "options", "help_text")
    extra = {k: body[k] for k in optional if k in body}
    return 200, copy.deepcopy(
        _store_merge_field(ctx, aud, tag=tag, name=name, type_=type_, **extra)
    )


def list_merge_fields(ctx: Context, list_id: str):
    aud = audience(ctx, list_id)
    try:
        count = min(int(ctx.request.query.get("count", ["10"])[-1]), 1000)
        offset = int(ctx.request.query.get("offset", ["0"])[-1])
    except ValueError:
        raise invalid("count", "count and offset are integers") from None
    fields = list(aud["merge_fields"].values())
    return 200, {
        "merge_fields": copy.deepcopy(fields[offset : offset + count]),
        "list_id": aud["id"],
        "total_items": len(fields),
        "_links": [],
    }
