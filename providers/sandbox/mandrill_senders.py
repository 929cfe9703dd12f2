"""Mailchimp Transactional sending domains inside the sandbox: `senders/domains`,
`senders/add-domain` and `senders/check-domain` (which adds a missing domain, as Mandrill's
does), answering the real `sender_domain` object (spf, dkim, dkim2, dmarc, verified_at,
valid_signing, verify_txt_key).

Kept per API key in the key's state under "sender_domains". The sandbox resolves no DNS: a new
domain has nothing valid until a test or the demo says so (`sending_domain_set`).
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

MAX_DOMAIN_LENGTH = 255


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _check(valid: bool, what: str) -> dict[str, Any]:
    return {
        "valid": valid,
        "valid_after": None,
        "error": None if valid else f"{what} record not found",
    }


def _new(domain: str) -> dict[str, Any]:
    return {
        "domain": domain,
        "created_at": _now(),
        "last_tested_at": _now(),
        "spf": _check(False, "SPF"),
        "dkim": _check(False, "DKIM"),
        "dkim2": _check(False, "DKIM"),
        "dmarc": _check(False, "DMARC"),
        "verified_at": None,
        "valid_signing": False,
        "verify_txt_key": hashlib.sha256(domain.encode()).hexdigest()[:22],
    }


def _domains(state: dict) -> dict[str, dict]:
    return state.setdefault("sender_domains", {})


class DomainRefused(ValueError):
    """The `domain` field is unusable (mandrill.py answers it as a ValidationError)."""


def _domain_name(body: dict) -> str:
    domain = body.get("domain")
    if not isinstance(domain, str) or not domain.strip():
        raise DomainRefused("Sorry, this field can't be left blank.")
    if len(domain) > MAX_DOMAIN_LENGTH:
        raise DomainRefused(f"At most {MAX_DOMAIN_LENGTH} characters")
    return domain.strip().lower()


def senders_domains(body: dict, state: dict):
    return [copy.deepcopy(d) for d in _domains(state).values()], None


def senders_add_domain(body: dict, state: dict):
    domain = _domain_name(body)
    entry = _domains(state).setdefault(domain, _new(domain))
    return copy.deepcopy(entry), None


def senders_check_domain(body: dict, state: dict):
    domain = _domain_name(body)
    entry = _domains(state).setdefault(domain, _new(domain))
    entry["last_tested_at"] = _now()
    return copy.deepcopy(entry), None


def sending_domain_set(
    sandbox: Sandbox,
    key: str,
    domain: str,
    *,
    spf: bool = True,
    dkim: bool = True,
    dmarc: bool = True,
    verified: bool = True,
) -> dict[str, Any]:
    """Set up `domain` for `key` as if its DNS were published and tested in Mandrill."""
    with sandbox.lock:
        state = sandbox.state["mandrill"].setdefault(key, {"templates": {}})
        entry = _domains(state).setdefault(domain.lower(), _new(domain.lower()))
        entry.update(
            spf=_check(spf, "SPF"),
            dkim=_check(dkim, "DKIM"),
            dkim2=_check(dkim, "DKIM"),
            dmarc=_check(dmarc, "DMARC"),
            verified_at=_now() if verified else None,
            valid_signing=spf and dkim and verified,
        )
        return copy.deepcopy(entry)


CALLS = {
    ("senders", "domains"): senders_domains,
    ("senders", "add-domain"): senders_add_domain,
    ("senders", "check-domain"): senders_check_domain,
}
