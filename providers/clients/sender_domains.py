"""The providers' answers about a sender domain (SendGrid's domain object, Mandrill's
`sender_domain`) as `DomainAuthentication`: pure functions over the JSON, apart from the
clients and their SDKs."""

from __future__ import annotations

from typing import Any

from providers.clients.sender_auth_types import MANDRILL_PLAN, DnsRecord, DomainAuthentication


def sendgrid_domain(domain: str, entry: dict[str, Any]) -> DomainAuthentication:
    """A SendGrid domain object (`GET /v3/whitelabel/domains`) as our verdict: its `valid`
    flag, and each record of its `dns` with SendGrid's own verdict."""
    records, problems = [], []
    dns = entry.get("dns") if isinstance(entry.get("dns"), dict) else {}
    for name, record in dns.items():
        if not isinstance(record, dict):
            continue
        valid = record.get("valid")
        found = DnsRecord(
            type=str(record.get("type") or "").upper(),
            host=str(record.get("host") or ""),
            value=str(record.get("data") or ""),
            valid=valid if isinstance(valid, bool) else None,
        )
        records.append(found)
        if valid is False:
            problems.append(f"{name}: {found.type} {found.host} -> {found.value} not found")
    valid = entry.get("valid") is True
    detail = f"domain authentication {entry.get('id')} is " + ("valid" if valid else "not valid")
    return DomainAuthentication(
        domain=domain,
        found=True,
        valid=valid,
        detail=detail,
        records=tuple(records),
        problems=tuple(problems),
    )


def _valid(entry: dict, name: str) -> tuple[bool, str]:
    part = entry.get(name) if isinstance(entry.get(name), dict) else {}
    return part.get("valid") is True, str(part.get("error") or "")


def mandrill_sending_domain(domain: str, entry: dict) -> DomainAuthentication:
    """A `sender_domain` as our verdict: SPF, DKIM (the rotatable `dkim2` or the legacy one),
    verified, signing."""
    records, problems = [], []
    spf_ok, spf_error = _valid(entry, "spf")
    dkim_ok, dkim_error = _valid(entry, "dkim")
    dkim2_ok, dkim2_error = _valid(entry, "dkim2")
    spf = DnsRecord("TXT", domain, "v=spf1 include:spf.mandrillapp.com ~all", spf_ok)
    records.append(spf)
    if not spf_ok:
        problems.append("SPF not valid" + (f": {spf_error}" if spf_error else ""))
    for option in MANDRILL_PLAN.dkim[:1]:
        records += [
            DnsRecord(r.type, r.host, r.value, dkim_ok or dkim2_ok).for_domain(domain)
            for r in option.records
        ]
    if not (dkim_ok or dkim2_ok):
        problems.append(
            "DKIM not valid"
            + (f": {dkim2_error or dkim_error}" if dkim2_error or dkim_error else "")
        )
    verified = bool(entry.get("verified_at"))
    if not verified:
        key = str(entry.get("verify_txt_key") or "")
        records.append(DnsRecord("TXT", domain, f"mandrill_verify.{key}", False))
        problems.append("the domain is not verified")
    signing = entry.get("valid_signing") is True
    if not signing and not problems:
        problems.append("valid_signing is false")
    valid = spf_ok and (dkim_ok or dkim2_ok) and verified and signing
    return DomainAuthentication(
        domain=domain,
        found=True,
        valid=valid,
        detail="valid for signing" if valid else "; ".join(problems),
        records=tuple(records),
        problems=tuple(problems),
    )
