"""What Mandrill makes of an accepted `messages/send` or `messages/send-template`: one email per
accepted recipient, recorded by the sandbox as `rendered`
(`[{"to": [email], "subject", "html", "text", "metadata"}]`) with `render_notes`.

- Sources: for send-template, the template's PUBLISHED code, subject and text (`publish_*`; a
  draft is never sent), with `message.subject` / `message.text` taking precedence as Mandrill's
  message fields do over a template's defaults; for send, `message.subject/html/text`.
- `merge_language: "handlebars"` (and `merge` not false): rendered by handlebars.js with the
  `global_merge_vars` overlaid by the recipient's `merge_vars` (`[{name, content}]`; content is
  any JSON, so objects and arrays work in `{{#each}}` and `{{a.b}}`). Names are used as given
  (case-sensitive, as in Handlebars).
- `merge_language: "mailchimp"` (Mandrill's default) or `merge: false`: recorded unrendered;
  `*|MERGE|*` tags are not simulated.
- `metadata`: the message's, overlaid by the recipient's `recipient_metadata` values.

A recipient Mandrill rejects or finds invalid gets no email, so no entry. A render failure does
not fail the call: the part is recorded empty and the error goes to `render_notes`. Only the
first `limit` recipients of a call are rendered (`MandrillApp.render_limit`); the others have
`subject`, `html` and `text` None.
"""

from __future__ import annotations

from typing import Any

from providers.sandbox.mandrill_events import recipient_metadata
from providers.sandbox.rendering import RenderError, render

DELIVERED = ("sent", "queued", "scheduled")


def merge_data(message: dict[str, Any], email: str) -> dict[str, Any]:
    """The Handlebars context of one recipient: global merge vars, then the recipient's."""
    data = _vars(message.get("global_merge_vars"))
    for entry in message.get("merge_vars") or []:
        if isinstance(entry, dict) and str(entry.get("rcpt", "")).lower() == email.lower():
            data.update(_vars(entry.get("vars")))
    return data


def _vars(items: Any) -> dict[str, Any]:
    return {
        str(item["name"]): item.get("content")
        for item in items or []
        if isinstance(item, dict) and "name" in item
    }


def _sources(message: dict, template: dict | None, notes: dict[str, None]) -> dict[str, str]:
    if template is None:
        return {part: message.get(part) or "" for part in ("subject", "html", "text")}
    if message.get("html"):
        notes["message.html is ignored: send-template sends the template's published code"] = None
    return {
        "subject": message.get("subject") or template.get("publish_subject") or "",
        "html": template.get("publish_code") or "",
        "text": message.get("text") or template.get("publish_text") or "",
    }


def rendered_messages(deliveries: list, *, limit: int) -> tuple[list[dict], list[str]]:
    """(one email per delivered recipient, notes) for the deliveries of one send call:
    `(result entry, message, template or None)` triples, as `mandrill._send` returns them."""
    notes: dict[str, None] = {}  # ordered, without repeats
    rendered: list[dict] = []
    for entry, message, template in deliveries:
        if entry["status"] not in DELIVERED:
            continue
        email = entry["email"]
        sources = _sources(message, template, notes)
        language = message.get("merge_language") or "mailchimp"
        merging = message.get("merge") is not False
        handlebars = merging and language == "handlebars"
        if not sources["text"] and message.get("auto_text"):
            notes["auto_text: Mandrill would generate the text part from the HTML; left empty"] = (
                None
            )
        item: dict[str, Any] = {"to": [email], **sources}
        if handlebars and len(rendered) >= limit:
            item.update(subject=None, html=None, text=None)
            notes[
                f"only the first {limit} recipients are rendered (the sandbox's render_limit): "
                "the others have subject, html and text None"
            ] = None
        elif handlebars:
            data = merge_data(message, email)
            for part, source in sources.items():
                try:
                    item[part] = render(source, data)
                except RenderError as exc:
                    item[part] = ""
                    notes[f"{part} does not render: {exc}"] = None
        elif merging and _has_merge_tags(sources):
            notes[
                "merge_language mailchimp: *|MERGE|* tags are not simulated; content as given"
            ] = None
        item["metadata"] = recipient_metadata(message, email)
        headers = message.get("headers")
        if headers and isinstance(headers, dict):  # shown when there are any
            item["headers"] = dict(headers)
        rendered.append(item)
    return rendered, list(notes)


def _has_merge_tags(sources: dict[str, str]) -> bool:
    return any("*|" in value for value in sources.values())


def with_rendered_subjects(deliveries: list, rendered: list[dict]) -> list:
    """The deliveries with each rendered recipient's subject in its message, so the webhook
    events carry the subject the recipient saw (`msg.subject`), as Mandrill's do."""
    subjects = {
        item["to"][0].lower(): item["subject"] for item in rendered if item["subject"] is not None
    }
    result = []
    for entry, message, template in deliveries:
        subject = subjects.get(entry["email"].lower())
        if subject is not None:
            message = {**message, "subject": subject}
        result.append((entry, message, template))
    return result
