"""SendGrid domain authentication inside the sandbox: `GET /v3/whitelabel/domains` (limit/offset,
`domain` filter), `POST /v3/whitelabel/domains` (201) and `GET /v3/whitelabel/domains/{id}`,
with the real domain object (automated security: `mail_cname`, `dkim1`, `dkim2` CNAMEs).

Domains are kept per API key in `sandbox.state["sendgrid"]["domains"]`. The sandbox resolves no
DNS: a new domain is not valid until a test or the demo says it is (`domain_authenticate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.sandbox.sendgrid_validation import errors_response, not_found, ok

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox, SandboxRequest, SandboxResponse

USER_ID = 1  # the sandbox's one SendGrid user (GET /v3/user/username says so too)
MAX_LIMIT = 200


def _domains(sandbox: Sandbox, key: str) -> list[dict[str, Any]]:
    return sandbox.state["sendgrid"].setdefault("domains", {}).setdefault(key, [])


def _dns(domain: str, subdomain: str, selector: str, valid: bool) -> dict[str, dict]:
    second = "s2" if selector == "s1" else f"{selector}2"
    return {
        "mail_cname": {
            "valid": valid,
            "type": "cname",
            "host": f"{subdomain}.{domain}",
            "data": f"u{USER_ID}.wl.sendgrid.net",
        },
        "dkim1": {
            "valid": valid,
            "type": "cname",
            "host": f"{selector}._domainkey.{domain}",
            "data": f"{selector}.domainkey.u{USER_ID}.wl.sendgrid.net",
        },
        "dkim2": {
            "valid": valid,
            "type": "cname",
            "host": f"{second}._domainkey.{domain}",
            "data": f"{second}.domainkey.u{USER_ID}.wl.sendgrid.net",
        },
    }


def _new_domain(sandbox: Sandbox, key: str, body: dict[str, Any]) -> dict[str, Any]:
    domains = _domains(sandbox, key)
    domain = str(body["domain"]).lower()
    subdomain = str(body.get("subdomain") or f"em{1000 + len(domains)}")
    selector = str(body.get("custom_dkim_selector") or "s1")
    entry = {
        "id": 1 + max((d["id"] for d in domains), default=0),
        "user_id": USER_ID,
        "domain": domain,
        "subdomain": subdomain,
        "username": "sandbox",
        "ips": list(body.get("ips") or []),
        "custom_spf": bool(body.get("custom_spf", False)),
        "default": bool(body.get("default", False)),
        "legacy": False,
        "automatic_security": bool(body.get("automatic_security", True)),
        "valid": False,
        "dns": _dns(domain, subdomain, selector, False),
        "subusers": [],
        "last_validation_attempt_at": None,
    }
    domains.append(entry)
    return entry


def domain_authenticate(
    sandbox: Sandbox, key: str, domain: str, *, valid: bool = True, invalid: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Set up `domain` for `key` as if an admin authenticated it in SendGrid: every record
    valid (`valid`), except those named in `invalid` ("dkim2", ...)."""
    with sandbox.lock:
        entry = next((d for d in _domains(sandbox, key) if d["domain"] == domain.lower()), None)
        if entry is None:
            entry = _new_domain(sandbox, key, {"domain": domain})
        for name, record in entry["dns"].items():
            record["valid"] = valid and name not in invalid
        entry["valid"] = all(r["valid"] for r in entry["dns"].values())
        return dict(entry)


def _int(request: SandboxRequest, name: str, default: int) -> int | None:
    raw = request.query.get(name, [str(default)])[0]
    return int(raw) if raw.isdigit() else None


def domains_list(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    limit, offset = _int(request, "limit", 50), _int(request, "offset", 0)
    if limit is None or offset is None or not 1 <= limit <= MAX_LIMIT:
        return errors_response(
            400, {"field": "limit", "message": f"limit must be an integer from 1 to {MAX_LIMIT}"}
        )
    wanted = (request.query.get("domain", [""])[0] or "").lower()
    with sandbox.lock:
        found = [d for d in _domains(sandbox, key) if not wanted or d["domain"] == wanted]
        page = [dict(d) for d in found[offset : offset + limit]]
    return ok(sandbox, request, key, 200, page)


def domains_create(request, sandbox: Sandbox, key: str) -> SandboxResponse:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        return errors_response(400, {"field": None, "message": "invalid JSON"})
    if not isinstance(body, dict) or not isinstance(body.get("domain"), str) or not body["domain"]:
        return errors_response(400, {"field": "domain", "message": "domain is required"})
    with sandbox.lock:
        if any(d["domain"] == body["domain"].lower() for d in _domains(sandbox, key)):
            return errors_response(
                400, {"field": "domain", "message": "A domain with this name already exists"}
            )
        entry = _new_domain(sandbox, key, body)
    return ok(sandbox, request, key, 201, entry, body=body)


def domain_get(request, sandbox: Sandbox, key: str, domain_id: str) -> SandboxResponse:
    with sandbox.lock:
        entry = next((d for d in _domains(sandbox, key) if str(d["id"]) == domain_id), None)
    if entry is None:
        return not_found()
    return ok(sandbox, request, key, 200, dict(entry))


ROUTES = [
    ("/v3/whitelabel/domains", {"GET": domains_list, "POST": domains_create}),
    ("/v3/whitelabel/domains/(?P<domain_id>[0-9]+)", {"GET": domain_get}),
]
