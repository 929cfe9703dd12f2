"""What SendGrid makes of an accepted `mail/send`: one email per personalization, recorded by
the sandbox as `rendered` (`[{"to", "subject", "html", "text", "custom_args"}]`) next to the
request body, with `render_notes` for whatever it could not or would not render.

- Dynamic template (`template_id` "d-..."): the template's ACTIVE version's `subject`,
  `html_content` and `plain_content`, rendered by handlebars.js with the personalization's
  `dynamic_template_data`. As at SendGrid, a personalization's `subject` (and the request's
  `subject` and `content`) do not override a dynamic template's.
- No template: subject (the personalization's, else the request's), HTML and text as given.
- `custom_args`: the request's, overlaid by the personalization's.

SendGrid renders after accepting the request (202), so a template that fails to render does not
fail the call here either: the part is recorded empty and the error goes to `render_notes`.

handlebars.js under js2py takes a millisecond or more per render, so only the first `limit`
personalizations of a request are rendered (`SendGridApp.render_limit`); the others are recorded
with `subject`, `html` and `text` None, and a note says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.sandbox import sendgrid_templates as templates
from providers.sandbox.rendering import RenderError, render

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox


def rendered_mail(
    sandbox: Sandbox, body: dict[str, Any], *, limit: int
) -> tuple[list[dict], list[str]]:
    """(one rendered email per personalization, notes) for a validated mail/send body."""
    notes: dict[str, None] = {}  # ordered and without repeats: 1,000 personalizations, 1 note
    shared_args = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
    template_id = body.get("template_id")
    version = None
    if template_id:
        template, version = templates.active_version(sandbox, template_id)
        if template is not None and template["generation"] != "dynamic":
            notes["legacy template: substitutions not simulated; content recorded as given"] = None
            template_id = None
        elif version is None:
            notes[f"template {template_id} has no active version: nothing to render"] = None
        else:
            if body.get("subject") or body.get("content"):
                notes["the request's subject and content are ignored: the template's win"] = None
            if not version.get("plain_content") and version.get("generate_plain_content"):
                notes[
                    "the active version has no plain_content (generate_plain_content is on and "
                    "its HTML has no text): text left empty"
                ] = None
    content = {
        block.get("type"): block.get("value", "")
        for block in body.get("content") or []
        if isinstance(block, dict)
    }
    shared_headers = _object(body.get("headers"))
    rendered = []
    for index, personalization in enumerate(body["personalizations"]):
        own_args = personalization.get("custom_args")
        entry = {
            "to": [address["email"] for address in personalization.get("to") or []],
            "subject": "",
            "html": "",
            "text": "",
            "custom_args": {**shared_args, **(own_args if isinstance(own_args, dict) else {})},
        }
        # The mail's headers (shown when there are any): the personalization's win.
        if headers := {**shared_headers, **_object(personalization.get("headers"))}:
            entry["headers"] = headers
        if not template_id:
            entry.update(
                subject=personalization.get("subject") or body.get("subject") or "",
                html=content.get("text/html", ""),
                text=content.get("text/plain", ""),
            )
        elif version is not None and index >= limit:
            entry.update(subject=None, html=None, text=None)
            notes[
                f"only the first {limit} personalizations are rendered (the sandbox's "
                "render_limit): the others have subject, html and text None"
            ] = None
        elif version is not None:
            if personalization.get("subject"):
                notes[
                    f"personalizations.{index}.subject is ignored: a dynamic template's subject "
                    "wins (pass it in dynamic_template_data)"
                ] = None
            data = personalization.get("dynamic_template_data")
            if data is not None and not isinstance(data, dict):
                notes[f"personalizations.{index}.dynamic_template_data is not an object"] = None
                data = {}
            entry.update(_render_version(version, data, notes))
        rendered.append(entry)
    return rendered, list(notes)


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _render_version(version: dict, data: dict | None, notes: dict[str, None]) -> dict[str, str]:
    parts = {"subject": "subject", "html": "html_content", "text": "plain_content"}
    rendered = {}
    for part, field in parts.items():
        try:
            rendered[part] = render(version.get(field), data)
        except RenderError as exc:
            rendered[part] = ""
            notes[f"{part} of template {version['template_id']} does not render: {exc}"] = None
    return rendered
