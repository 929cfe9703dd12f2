"""The DNS checks of a sender domain: SPF (the provider's include, the 10-lookup limit), DKIM
(the provider's selectors), DMARC (policy, alignment). Each gives checklist items; a lookup the
DNS could not answer gives "could not check", never "fail".

Item: {"key", "label", "state", "found", "publish": [{"type", "host", "value"}], "note"}.
"""

from __future__ import annotations

import re

from providers.clients.sender_auth_types import DkimOption, DnsRecord, SenderAuthPlan
from providers.models import SenderAuthState
from providers.services.dns_lookup import DnsLookup, DnsUnavailable

PASS, WARN, FAIL, UNKNOWN = (
    SenderAuthState.PASS.value,
    SenderAuthState.WARN.value,
    SenderAuthState.FAIL.value,
    SenderAuthState.UNKNOWN.value,
)
# RFC 7208 4.6.4: more DNS-querying terms than this and receivers answer permerror.
SPF_MAX_LOOKUPS = 10
_SPF_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_SPF_ALL = re.compile(r"^[+\-~?]?all$", re.IGNORECASE)


def item(key: str, label: str, state: str, found: str, *, publish=(), note: str = "") -> dict:
    return {
        "key": key,
        "label": label,
        "state": state,
        "found": found,
        "publish": [r.as_dict() if isinstance(r, DnsRecord) else r for r in publish],
        "note": note,
    }


def _unknown(key: str, label: str, problem: DnsUnavailable) -> dict:
    return item(key, label, UNKNOWN, f"Could not check: {problem}", note="Checked again next run.")


# --- SPF ---------------------------------------------------------------------------------------
def spf_records(lookup: DnsLookup, domain: str) -> list[str]:
    return [t for t in lookup.txt(domain) if re.match(r"(?i)^v=spf1(\s|$)", t)]


def spf_items(lookup: DnsLookup, domain: str, plan: SenderAuthPlan) -> list[dict]:
    label = "SPF record"
    try:
        records = spf_records(lookup, domain)
    except DnsUnavailable as problem:
        return [_unknown("spf", label, problem)]
    include = plan.spf_include
    mechanism = f"include:{include}" if include else ""
    if not records:
        publish = [DnsRecord("TXT", domain, f"v=spf1 {mechanism} ~all")] if include else []
        note = "" if include else plan.note
        return [item("spf", label, FAIL, f"No SPF record at {domain}.", publish=publish, note=note)]
    if len(records) > 1:
        found = f"{len(records)} SPF records at {domain}: " + " | ".join(records)
        note = "Receivers treat several SPF records as an error (permerror): merge them into one."
        return [item("spf", label, FAIL, found, note=note)]
    record = records[0]
    terms = record.split()[1:]
    try:
        allowed = not include or _includes(lookup, terms, include, seen={domain.lower()})
    except DnsUnavailable as problem:
        return [_unknown("spf", label, problem)]
    if not allowed:
        return [
            item(
                "spf",
                label,
                FAIL,
                f"{record} (no {mechanism}: {plan.provider} is not allowed to send)",
                publish=[DnsRecord("TXT", domain, _with_include(terms, mechanism))],
                note="Replace the existing SPF record with this one (one SPF record only).",
            ),
            _spf_lookups(lookup, domain, record),
        ]
    note = "" if include else plan.note
    found = record + (f" (includes {include})" if include else " (an SPF record exists)")
    return [item("spf", label, PASS, found, note=note), _spf_lookups(lookup, domain, record)]


def _includes(lookup: DnsLookup, terms: list[str], include: str, *, seen: set[str]) -> bool:
    """Whether the record includes `include`, itself or through the records it includes (an
    `include:_spf.shop.example` that includes the provider's counts)."""
    wanted = include.lower().rstrip(".")
    nested = []
    for term in terms:
        lowered = term.lower().lstrip("+")
        name, _, target = lowered.partition(":" if lowered.startswith("include:") else "=")
        if name not in ("include", "redirect"):
            continue
        if target == wanted:
            return True
        nested.append(target)
    for target in nested:
        if target in seen or len(seen) > SPF_MAX_LOOKUPS:
            continue
        seen.add(target)
        found = spf_records(lookup, target)
        if len(found) == 1 and _includes(lookup, found[0].split()[1:], include, seen=seen):
            return True
    return False


def _with_include(terms: list[str], mechanism: str) -> str:
    """The record with `mechanism` added before its `all` (or a `~all` appended)."""
    body = [t for t in terms if not _SPF_ALL.match(t)]
    ending = next((t for t in terms if _SPF_ALL.match(t)), "~all")
    return " ".join(["v=spf1", *body, mechanism, ending])


def _spf_lookups(lookup: DnsLookup, domain: str, record: str) -> dict:
    label = "SPF DNS lookups (at most 10)"
    try:
        count = spf_lookup_count(lookup, record, seen={domain.lower()})
    except DnsUnavailable as problem:
        return _unknown("spf_lookups", label, problem)
    if count > SPF_MAX_LOOKUPS:
        return item(
            "spf_lookups",
            label,
            FAIL,
            f"{count} DNS lookups: over the limit of {SPF_MAX_LOOKUPS}, receivers fail SPF "
            "(permerror).",
            note="Remove includes of services that no longer send for this domain, or flatten "
            "some into ip4:/ip6: terms.",
        )
    if count == SPF_MAX_LOOKUPS:
        return item(
            "spf_lookups",
            label,
            WARN,
            f"{count} DNS lookups: at the limit; one more include breaks SPF.",
        )
    return item("spf_lookups", label, PASS, f"{count} of {SPF_MAX_LOOKUPS} DNS lookups.")


def spf_lookup_count(lookup: DnsLookup, record: str, *, seen: set[str], depth: int = 0) -> int:
    """The DNS-querying terms of `record`, counting those of its includes and redirect (stops
    once over the limit: receivers stop there too)."""
    count = 0
    for term in record.split()[1:]:
        lowered = term.lower().lstrip("+-~?")
        name = re.split(r"[:/=]", lowered, maxsplit=1)[0]
        if name == "redirect":
            target = lowered.partition("=")[2]
        elif name in _SPF_LOOKUP_MECHANISMS:
            target = lowered.partition(":")[2] if name == "include" else ""
        else:
            continue
        count += 1
        if target and target not in seen and depth < SPF_MAX_LOOKUPS and count <= SPF_MAX_LOOKUPS:
            seen.add(target)
            nested = spf_records(lookup, target)
            if len(nested) == 1:
                count += spf_lookup_count(lookup, nested[0], seen=seen, depth=depth + 1)
        if count > SPF_MAX_LOOKUPS:
            break
    return count


# --- DKIM --------------------------------------------------------------------------------------
def dkim_item(
    lookup: DnsLookup, domain: str, plan: SenderAuthPlan, options: tuple[DkimOption, ...] = ()
) -> dict:
    """Pass when every record of one option is published. `options`: the exact records the
    provider reported (preferred over the plan's)."""
    label = "DKIM"
    options = options or tuple(
        DkimOption(o.name, tuple(r.for_domain(domain) for r in o.records)) for o in plan.dkim
    )
    if not options:
        unknown = "Not checked: the signing selector is unknown."
        return item("dkim", label, WARN, unknown, note=plan.note)
    problems = []
    try:
        for option in options:
            missing = [(r, why) for r in option.records if (why := _dkim_problem(lookup, r))]
            if not missing:
                hosts = ", ".join(r.host for r in option.records)
                return item("dkim", label, PASS, f"{option.name}: {hosts} published.")
            problems.append((option, missing))
    except DnsUnavailable as problem:
        return _unknown("dkim", label, problem)
    first, missing = problems[0]
    found = "; ".join(why for _, why in missing)
    publish = [_publishable(r, plan) for r, _ in missing]
    note = f"Publish {first.name}" + (
        f" (or {', '.join(o.name for o, _ in problems[1:])})." if len(problems) > 1 else "."
    )
    return item("dkim", label, FAIL, found, publish=publish, note=note)


def _dkim_problem(lookup: DnsLookup, record: DnsRecord) -> str:
    """ "" when `record` is published; otherwise what was found instead."""
    target = lookup.cname(record.host)
    if record.type == "CNAME":
        expected = record.value.lower().rstrip(".")
        if target and (not expected or target == expected):
            return ""
        if target:
            return f"{record.host} points at {target}, not {expected}"
        if _has_key(lookup, record.host):
            return "" if not expected else f"{record.host} holds a key (TXT), not the CNAME"
        return f"no CNAME at {record.host}"
    if target or _has_key(lookup, record.host):
        return ""  # the key itself, or a CNAME delegating it
    return f"no DKIM key at {record.host}"


def _has_key(lookup: DnsLookup, host: str) -> bool:
    return any(re.search(r"(?i)(^|;)\s*p=[A-Za-z0-9+/]", t) for t in lookup.txt(host))


def _publishable(record: DnsRecord, plan: SenderAuthPlan) -> DnsRecord:
    if record.value:
        return record
    return DnsRecord(
        record.type, record.host, f"(the value {plan.provider} shows for this host)", record.valid
    )


# --- DMARC -------------------------------------------------------------------------------------
def dmarc_items(lookup: DnsLookup, domain: str, *, aligned_by_provider: bool) -> list[dict]:
    """The policy item, and (with a record) the alignment item. `aligned_by_provider`: the
    provider signs with the From domain itself (its return path is its own subdomain)."""
    label = "DMARC policy"
    host = f"_dmarc.{domain}"
    publish = [DnsRecord("TXT", host, "v=DMARC1; p=none")]
    try:
        records, where = _dmarc_records(lookup, domain)
    except DnsUnavailable as problem:
        return [_unknown("dmarc", label, problem)]
    if not records:
        return [
            item(
                "dmarc",
                label,
                FAIL,
                f"No DMARC record at {host}.",
                publish=publish,
                note="Gmail and Yahoo require at least p=none from bulk senders; add "
                "rua=mailto:<a mailbox of yours> to receive their reports.",
            )
        ]
    if len(records) > 1:
        found = f"{len(records)} DMARC records at {where}: receivers use none of them."
        return [item("dmarc", label, FAIL, found, note="Keep one.")]
    tags = dmarc_tags(records[0])
    inherited = "" if where == host else f" (inherited from {where})"
    found = f"{records[0]}{inherited}"
    policy = tags.get("p", "none")
    if policy not in ("none", "quarantine", "reject"):
        policy_item = item("dmarc", label, FAIL, f"{found}: p={policy} is not a policy.")
    elif policy == "none":
        policy_item = item(
            "dmarc",
            label,
            WARN,
            f"{found}: p=none (monitoring only).",
            note="Enough for Gmail and Yahoo; move to p=quarantine or p=reject once the "
            "reports show only your own mail.",
        )
    else:
        policy_item = item("dmarc", label, PASS, f"{found}: p={policy}.")
    return [policy_item, _alignment(tags, domain, aligned_by_provider=aligned_by_provider)]


def _dmarc_records(lookup: DnsLookup, domain: str) -> tuple[list[str], str]:
    """The DMARC records of `domain`, or of its organisational domain (approximated as its last
    two labels) when it has none; and where they were found."""
    for candidate in dict.fromkeys([domain, ".".join(domain.split(".")[-2:])]):
        host = f"_dmarc.{candidate}"
        records = [t for t in lookup.txt(host) if re.match(r"(?i)^v\s*=\s*DMARC1\s*(;|$)", t)]
        if records:
            return records, host
    return [], f"_dmarc.{domain}"


def dmarc_tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = value.strip().lower()
    return tags


def _alignment(tags: dict[str, str], domain: str, *, aligned_by_provider: bool) -> dict:
    label = "DMARC alignment"
    adkim, aspf = tags.get("adkim", "r"), tags.get("aspf", "r")
    found = f"adkim={adkim}, aspf={aspf}"
    if adkim == "r" and aspf == "r":
        return item("dmarc_alignment", label, PASS, f"{found} (relaxed).")
    notes = []
    if aspf == "s":
        notes.append(
            "aspf=s: the provider's bounce (return-path) domain is usually a subdomain or its own, "
            "so SPF never aligns strictly; DKIM has to."
        )
    if adkim == "s":
        notes.append(
            f"adkim=s: the DKIM signature must be exactly d={domain}"
            + ("." if aligned_by_provider else "; this provider signs with its own domain.")
        )
    return item("dmarc_alignment", label, WARN, f"{found} (strict).", note=" ".join(notes))
