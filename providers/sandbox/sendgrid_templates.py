"""SendGrid's transactional template API (`/v3/templates`, versions) inside the sandbox, kept in
`sandbox.state["sendgrid"]["templates"]` (template id -> template with its versions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from providers.sandbox.core import SandboxRequest, SandboxResponse
from providers.sandbox.rendering import plain_text_from_html
from providers.sandbox.sendgrid_validation import error, errors_response, not_found, ok

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_NAME = 100
MAX_SUBJECT = 255
MAX_HTML_BYTES = 1_048_576
VERSION_FIELDS = (
    "name",
    "subject",
    "html_content",
    "plain_content",
    "generate_plain_content",
    "active",
    "editor",
    "test_data",
)


def check_template_id(sandbox: Sandbox, template_id: Any) -> list[dict]:
    """Errors for a mail/send `template_id` this account never created."""
    with sandbox.lock:
        known = template_id in _store(sandbox)
    if known:
        return []
    return [error("The template_id must be a valid template ID.", "template_id")]


def _store(sandbox: Sandbox) -> dict[str, dict]:
    return sandbox.state["sendgrid"].setdefault("templates", {})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _body(request: SandboxRequest) -> tuple[dict | None, SandboxResponse | None]:
    try:
        body = request.json() if request.body else {}
    except (ValueError, UnicodeDecodeError):
        return None, errors_response(400, error("Bad Request", None))
    if not isinstance(body, dict):
        return None, errors_response(400, error("Bad Request", None))
    return body, None


def _name_errors(body: dict, *, required: bool) -> list[dict]:
    name = body.get("name")
    if name is None and not required:
        return []
    if not isinstance(name, str) or not name.strip():
        return [{"field": "name", "message": "name is required"}]
    if len(name) > MAX_NAME:
        return [{"field": "name", "message": "name must be at most 100 characters"}]
    return []


def _version_errors(body: dict, *, creating: bool) -> list[dict]:
    errors = _name_errors(body, required=creating)
    subject = body.get("subject")
    if subject is not None or creating:
        if not isinstance(subject, str) or not subject.strip():
            errors.append({"field": "subject", "message": "subject is required"})
        elif len(subject) > MAX_SUBJECT:
            errors.append({"field": "subject", "message": "subject must be at most 255 characters"})
    content = body.get("html_content")
    if content is not None and (
        not isinstance(content, str) or len(content.encode("utf-8")) > MAX_HTML_BYTES
    ):
        errors.append({"field": "html_content", "message": "html_content is too large"})
    if body.get("active", 0) not in (0, 1):
        errors.append({"field": "active", "message": "active must be 0 or 1"})
    if body.get("editor", "code") not in ("code", "design"):
        errors.append({"field": "editor", "message": "editor must be code or design"})
    return errors


def _generate_plain(version: dict) -> None:
    """SendGrid: "If true, plain_content is always generated from html_content. If false,
    plain_content is not altered." (on every save, so a later HTML edit regenerates it)."""
    if version["generate_plain_content"]:
        version["plain_content"] = plain_text_from_html(version["html_content"] or "")


def active_version(sandbox: Sandbox, template_id: str) -> tuple[dict | None, dict | None]:
    """Copies of a template (without versions) and of its active version (None: none)."""
    with sandbox.lock:
        found = _store(sandbox).get(template_id)
        if found is None:
            return None, None
        active = next((v for v in found["versions"] if v["active"] == 1), None)
        template = {k: v for k, v in found.items() if k != "versions"}
        return template, dict(active) if active else None


def _activate(template: dict, version: dict) -> None:
    for other in template["versions"]:
        other["active"] = 0
    version["active"] = 1


def create_template(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    body, problem = _body(request)
    if problem:
        return problem
    generation = body.get("generation", "legacy")
    errors = _name_errors(body, required=True)
    if generation not in ("legacy", "dynamic"):
        errors.append({"field": "generation", "message": "generation must be legacy or dynamic"})
    if errors:
        return errors_response(400, *errors)
    template_id = ("d-" + uuid.uuid4().hex) if generation == "dynamic" else str(uuid.uuid4())
    template = {
        "id": template_id,
        "name": body["name"],
        "generation": generation,
        "updated_at": _now(),
        "versions": [],
    }
    with sandbox.lock:
        _store(sandbox)[template_id] = template
        answer = dict(template, versions=[])
    return ok(sandbox, request, key, 201, answer, body=body, template_id=template_id)


def list_templates(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    page_size = (request.query.get("page_size") or [""])[0]
    if not page_size.isdigit() or not 1 <= int(page_size) <= 200:
        return errors_response(
            400, {"field": "page_size", "message": "page_size is required and must be 1..200"}
        )
    generations = set(",".join(request.query.get("generations") or ["legacy"]).split(","))
    with sandbox.lock:
        matching = [t for t in _store(sandbox).values() if t["generation"] in generations]
        result = [_copy(t) for t in matching[: int(page_size)]]
    return ok(sandbox, request, key, 200, {"result": result, "_metadata": {"count": len(result)}})


def _copy(template: dict) -> dict:
    return dict(template, versions=[dict(v) for v in template["versions"]])


def _find(sandbox: Sandbox, template: str, version: str | None = None):
    found = _store(sandbox).get(template)
    if found is None or version is None:
        return found, None
    return found, next((v for v in found["versions"] if v["id"] == version), None)


def get_template(request, sandbox: Sandbox, key: str, template: str) -> SandboxResponse:
    with sandbox.lock:
        found, _ = _find(sandbox, template)
        answer = _copy(found) if found else None
    return ok(sandbox, request, key, 200, answer) if answer else not_found()


def rename_template(request, sandbox: Sandbox, key: str, template: str) -> SandboxResponse:
    body, problem = _body(request)
    if problem:
        return problem
    if errors := _name_errors(body, required=True):
        return errors_response(400, *errors)
    with sandbox.lock:
        found, _ = _find(sandbox, template)
        if found:
            found.update(name=body["name"], updated_at=_now())
            answer = _copy(found)
    return ok(sandbox, request, key, 200, answer, body=body) if found else not_found()


def delete_template(request, sandbox: Sandbox, key: str, template: str) -> SandboxResponse:
    with sandbox.lock:
        found = _store(sandbox).pop(template, None)
    if not found:
        return not_found()
    sandbox.record("sendgrid", request, key=key, template_id=template)
    return SandboxResponse(204)


def add_version(request, sandbox: Sandbox, key: str, template: str) -> SandboxResponse:
    body, problem = _body(request)
    if problem:
        return problem
    if errors := _version_errors(body, creating=True):
        return errors_response(400, *errors)
    version = {
        "id": str(uuid.uuid4()),
        "user_id": 1,
        "template_id": template,
        "active": 0,
        "name": body["name"],
        "subject": body["subject"],
        "html_content": body.get("html_content", ""),
        "plain_content": body.get("plain_content", ""),
        "generate_plain_content": body.get("generate_plain_content", True),
        "editor": body.get("editor", "code"),
        "test_data": body.get("test_data", ""),
        "updated_at": _now(),
        "thumbnail_url": "",
    }
    _generate_plain(version)
    with sandbox.lock:
        found, _ = _find(sandbox, template)
        if found:
            found["versions"].append(version)
            # "The first version created for a template will automatically be set to Active."
            if body.get("active") == 1 or len(found["versions"]) == 1:
                _activate(found, version)
            found["updated_at"] = version["updated_at"]
            answer = dict(version)
    if not found:
        return not_found()
    return ok(
        sandbox, request, key, 201, answer, body=body, template_id=template, version_id=answer["id"]
    )


def get_version(request, sandbox, key: str, template: str, version: str) -> SandboxResponse:
    with sandbox.lock:
        _, found = _find(sandbox, template, version)
        answer = dict(found) if found else None
    return ok(sandbox, request, key, 200, answer) if answer else not_found()


def edit_version(request, sandbox, key: str, template: str, version: str) -> SandboxResponse:
    body, problem = _body(request)
    if problem:
        return problem
    # The spec marks name and subject required on PATCH too; the service is laxer (unconfirmed).
    if errors := _version_errors(body, creating=False):
        return errors_response(400, *errors)
    with sandbox.lock:
        owner, found = _find(sandbox, template, version)
        if found:
            found.update({k: body[k] for k in VERSION_FIELDS if k in body and k != "active"})
            _generate_plain(found)
            if body.get("active") == 1:
                _activate(owner, found)
            found["updated_at"] = owner["updated_at"] = _now()
            answer = dict(found)
    if not found:
        return not_found()
    return ok(
        sandbox, request, key, 200, answer, body=body, template_id=template, version_id=version
    )


def activate_version(request, sandbox, key: str, template: str, version: str) -> SandboxResponse:
    with sandbox.lock:
        owner, found = _find(sandbox, template, version)
        if found:
            _activate(owner, found)
            answer = dict(found)
    if not found:
        return not_found()
    return ok(sandbox, request, key, 200, answer, template_id=template, version_id=version)


def delete_version(request, sandbox, key: str, template: str, version: str) -> SandboxResponse:
    with sandbox.lock:
        owner, found = _find(sandbox, template, version)
        if found:
            owner["versions"].remove(found)
    if not found:
        return not_found()
    sandbox.record("sendgrid", request, key=key, template_id=template, version_id=version)
    return SandboxResponse(204)


_T = "/v3/templates/(?P<template>[^/]+)"
_V = _T + "/versions/(?P<version>[^/]+)"
ROUTES = [
    ("/v3/templates", {"POST": create_template, "GET": list_templates}),
    (_T, {"GET": get_template, "PATCH": rename_template, "DELETE": delete_template}),
    (_T + "/versions", {"POST": add_version}),
    (_V, {"GET": get_version, "PATCH": edit_version, "DELETE": delete_version}),
    (_V + "/activate", {"POST": activate_version}),
]
