"""SendGrid's error answers, and validation of a v3 `mail/send` body as strict as the real
service's.

`validate_mail` returns SendGrid's error objects (`{"message", "field", "help"}`), every problem
found. Limits and wording as SendGrid's v3 Mail Send reference and its "Mail Send errors" page
document them.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from providers.sandbox.core import SandboxRequest, SandboxResponse

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SCHEDULE_AHEAD = 72 * 3600

ERRORS_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

# Deliberately simple, like SendGrid's: one "@", no spaces, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")

# Headers SendGrid sets itself and refuses to take from the request.
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)


def error(message: str, field: str | None) -> dict[str, Any]:
    """One error object in SendGrid's shape; `help` points at the docs anchor of the field."""
    anchor = re.sub(r"\.\d+", "", field) if field else ""
    return {
        "message": message,
        "field": field,
        "help": f"{ERRORS_HELP}#message.{anchor}" if anchor else None,
    }


def errors_response(status: int, *errors: dict[str, Any]) -> SandboxResponse:
    return SandboxResponse.json(status, {"errors": list(errors)})


def plain_error(status: int, message: str) -> SandboxResponse:
    return errors_response(status, {"message": message, "field": None, "help": None})


def not_found() -> SandboxResponse:
    return errors_response(404, {"field": None, "message": "resource not found"})


def ok(sandbox: Sandbox, request: SandboxRequest, key: str, status: int, payload: Any, **extra):
    """A success answer, recorded (with `extra`) as something the provider accepted."""
    sandbox.record("sendgrid", request, key=key, **extra)
    return SandboxResponse.json(status, payload)


def is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def validate_mail(body: Any, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every validation error in a mail/send body (empty: the service would accept it)."""
    if not isinstance(body, dict):
        return [error("Bad Request", None)]
    now = time.time() if now is None else now
    errors: list[dict[str, Any]] = []
    uses_template = bool(body.get("template_id"))
    errors += _personalizations(body.get("personalizations"), now)
    errors += _sender(body)
    errors += _subject(body, uses_template)
    errors += _content(body.get("content"), uses_template)
    errors += _categories(body.get("categories"))
    errors += _custom_args(body)
    errors += _headers(body.get("headers"), "headers")
    errors += _send_at(body.get("send_at"), "send_at", now)
    errors += _asm(body.get("asm"))
    for name in ("template_id", "mail_settings", "tracking_settings"):
        expected = str if name == "template_id" else dict
        if name in body and not isinstance(body[name], expected):
            errors.append(error(f"Invalid type. Expected: {_type(expected())}.", name))
    return errors


def _address(value: Any, field: str, *, kind: str) -> list[dict]:
    if not isinstance(value, dict) or not is_email(value.get("email")):
        return [error("Does not contain a valid address.", f"{field}.email")]
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        return [
            error("Invalid type. Expected: string, given: " + _type(name) + ".", f"{field}.name")
        ]
    # Unquoted , and ; in a recipient name break SendGrid's header building: it refuses them.
    if kind == "recipient" and name and re.search(r"[,;]", name) and not _quoted(name):
        return [
            error(
                f"The {field.rsplit('.', 2)[-2]}.name parameter cannot include either "
                "the ; or , characters.",
                f"{field}.name",
            )
        ]
    return []


def _personalizations(value: Any, now: float) -> list[dict]:
    if not isinstance(value, list) or not value:
        return [error("You must have at least one personalization.", "personalizations")]
    if len(value) > MAX_PERSONALIZATIONS:
        return [
            error(
                "The personalization block is limited to 1000 personalizations per API "
                f"request. You have provided {len(value)} personalizations. Please consider "
                "splitting this into multiple requests and resending your request.",
                "personalizations",
            )
        ]
    errors: list[dict] = []
    total = 0
    seen: set[str] = set()
    for index, item in enumerate(value):
        base = f"personalizations.{index}"
        if not isinstance(item, dict):
            errors.append(error("Invalid type. Expected: object.", base))
            continue
        to = item.get("to")
        if not isinstance(to, list) or not to:
            errors.append(
                error("The to parameter is required for all personalization objects.", f"{base}.to")
            )
        for kind in ("to", "cc", "bcc"):
            addresses = item.get(kind)
            if addresses is None or (kind == "to" and not isinstance(addresses, list)):
                continue
            if not isinstance(addresses, list):
                errors.append(error("Invalid type. Expected: array.", f"{base}.{kind}"))
                continue
            total += len(addresses)
            for position, address in enumerate(addresses):
                field = f"{base}.{kind}.{position}"
                found = _address(address, field, kind="recipient")
                errors += found
                if found:
                    continue
                email = address["email"].lower()
                if email in seen:
                    errors.append(
                        error(
                            "Each unique email address in the personalizations array should "
                            f"only be included once. You have included {address['email']} "
                            "more than once.",
                            field,
                        )
                    )
                seen.add(email)
        if "from" in item:
            errors += _address(item["from"], f"{base}.from", kind="sender")
        if "subject" in item and (not isinstance(item["subject"], str) or not item["subject"]):
            errors.append(
                error(
                    "The subject must be a string at least one character long.", f"{base}.subject"
                )
            )
        errors += _headers(item.get("headers"), f"{base}.headers")
        errors += _string_values(item.get("custom_args"), f"{base}.custom_args")
        errors += _send_at(item.get("send_at"), f"{base}.send_at", now)
    if total > MAX_RECIPIENTS:
        errors.insert(
            0,
            error(
                "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                "personalizations",
            ),
        )
    return errors


def _sender(body: dict) -> list[dict]:
    sender = body.get("from")
    if (
        not isinstance(sender, dict)
        or not isinstance(sender.get("email"), str)
        or not sender["email"]
    ):
        return [
            error(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.  e.g. "
                '{"email" : "example@example.com"}  or {"email" : "example@example.com", '
                '"name" : "Example Recipient"}.',
                "from.email",
            )
        ]
    if not sender["email"].isascii():
        return [error("The from email does not support Unicode.", "from.email")]
    errors = _address(sender, "from", kind="sender")
    if "reply_to" in body and "reply_to_list" in body:
        errors.append(
            error("The reply_to and reply_to_list parameters cannot be used together.", "reply_to")
        )
    elif "reply_to" in body:
        errors += _address(body["reply_to"], "reply_to", kind="sender")
    elif "reply_to_list" in body:
        items = body["reply_to_list"]
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            errors.append(error("The reply_to_list must have 1 to 1000 items.", "reply_to_list"))
        else:
            for position, item in enumerate(items):
                errors += _address(item, f"reply_to_list.{position}", kind="sender")
    return errors


def _subject(body: dict, uses_template: bool) -> list[dict]:
    if uses_template:
        return []
    subject = body.get("subject")
    if isinstance(subject, str) and subject:
        return []
    items = body.get("personalizations")
    if (
        isinstance(items, list)
        and items
        and all(
            isinstance(p, dict) and isinstance(p.get("subject"), str) and p["subject"]
            for p in items
        )
    ):
        return []
    return [
        error(
            "The subject is required. You can get around this requirement if you use a template "
            "with a subject defined or if every personalization has a subject defined.",
            "subject",
        )
    ]


def _content(value: Any, uses_template: bool) -> list[dict]:
    if value is None and uses_template:
        return []
    if not isinstance(value, list) or not value:
        return [
            error(
                "Unless a valid template_id is provided, the content parameter is required. There "
                "must be at least one defined content block. We typically suggest both text/plain "
                "and text/html blocks are included, but only one block is required.",
                "content",
            )
        ]
    errors: list[dict] = []
    types = []
    for position, block in enumerate(value):
        field = f"content.{position}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(error("The content type must be a string.", f"{field}.type"))
            continue
        types.append(block["type"])
        if not isinstance(block.get("value"), str) or not block["value"]:
            errors.append(
                error(
                    "The content value must be a string at least one character in length.",
                    f"{field}.value",
                )
            )
    # text/plain, then text/html, then anything else; each of the two at most once.
    rank = [{"text/plain": 0, "text/html": 1}.get(t, 2) for t in types]
    if rank != sorted(rank) or types.count("text/plain") > 1 or types.count("text/html") > 1:
        errors.append(
            error(
                "If present, text/plain content must be first, followed by text/html, followed by "
                "any other content, and text/plain and text/html may only be provided once.",
                "content",
            )
        )
    return errors


def _categories(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [error("Invalid type. Expected: array.", "categories")]
    if len(value) > MAX_CATEGORIES:
        return [error("Too many categories. You may not have more than 10.", "categories")]
    return [
        error("A category cannot have more than 255 characters.", f"categories.{position}")
        for position, category in enumerate(value)
        if not isinstance(category, str) or not category or len(category) > MAX_CATEGORY_LENGTH
    ]


def _custom_args(body: dict) -> list[dict]:
    errors = _string_values(body.get("custom_args"), "custom_args")
    # The limit is per message: the message's custom_args merged with one personalization's.
    shared = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
    too_big = "The total size of custom_args must be less than 10000 bytes."
    if len(json.dumps(shared).encode()) >= MAX_CUSTOM_ARGS_BYTES:
        return [*errors, error(too_big, "custom_args")]
    items = body.get("personalizations")
    for index, item in enumerate(items if isinstance(items, list) else []):
        own = item.get("custom_args") if isinstance(item, dict) else None
        merged = {**shared, **(own if isinstance(own, dict) else {})}
        if len(json.dumps(merged).encode()) >= MAX_CUSTOM_ARGS_BYTES:
            return [*errors, error(too_big, f"personalizations.{index}.custom_args")]
    return errors


def _string_values(value: Any, field: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [error("Invalid type. Expected: object, given: " + _type(value) + ".", field)]
    return [
        error(f"Invalid type. Expected: string, given: {_type(item)}.", f"{field}.{key}")
        for key, item in value.items()
        if not isinstance(item, str)
    ]


def _headers(value: Any, field: str) -> list[dict]:
    errors = _string_values(value, field)
    if errors or not value:
        return errors
    return [
        error(f"The header {name} is reserved and cannot be set.", f"{field}.{name}")
        for name in value
        if name.lower() in RESERVED_HEADERS
    ]


def _send_at(value: Any, field: str, now: float) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return [error("The send_at parameter must be a valid Unix timestamp.", field)]
    if value > now + MAX_SCHEDULE_AHEAD:
        return [error("You cannot schedule a send more than 72 hours in advance.", field)]
    return []


def _asm(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, dict) or not isinstance(value.get("group_id"), int):
        return [error("The asm.group_id parameter is required and must be an integer.", "asm")]
    display = value.get("groups_to_display")
    if display is not None and (not isinstance(display, list) or len(display) > 25):
        return [error("The groups_to_display parameter may list at most 25 groups.", "asm.groups")]
    return []


def _quoted(name: str) -> bool:
    return len(name) >= 2 and name[0] == name[-1] == '"'


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", list: "array", dict: "object", str: "string"}.get(
        type(value), "null"
    )
