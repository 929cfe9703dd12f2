"""What a provider kind expects of a sender domain's DNS (its SPF include, its DKIM records), and
what the provider itself says of the domain's authentication: plain values, no SDK imports, so
the SMTP client can name the plan of the relay it talks to.

A record's host and value may hold "{domain}", the sender domain being checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SenderAuthScope(StrEnum):
    """Which checks apply to an account's sender domain."""

    # The account's own domain signs and sends: SPF, DKIM and DMARC.
    FULL = "full"
    # The provider sends from its own infrastructure and authenticates it itself (Mailchimp
    # Marketing): only the From domain's DMARC is ours to publish.
    DMARC_ONLY = "dmarc_only"


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record: `type` (TXT, CNAME, MX), the full host name, the value. `valid` is the
    provider's verdict when it reports one (None: not said)."""

    type: str
    host: str
    value: str
    valid: bool | None = None

    def for_domain(self, domain: str) -> DnsRecord:
        return DnsRecord(
            self.type,
            self.host.format(domain=domain),
            self.value.format(domain=domain),
            self.valid,
        )

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "host": self.host, "value": self.value}


@dataclass(frozen=True)
class DkimOption:
    """One way of publishing the provider's DKIM keys: all its records must be there. A record's
    empty value means "any value" (a TXT key record: one with a p= key; a CNAME: any target)."""

    name: str
    records: tuple[DnsRecord, ...]


@dataclass(frozen=True)
class SenderAuthPlan:
    """What the provider needs published at the sender domain."""

    provider: str  # for people: "SendGrid"
    scope: SenderAuthScope = SenderAuthScope.FULL
    spf_include: str = ""  # the include: domain; "" = any SPF record will do (unknown relay)
    dkim: tuple[DkimOption, ...] = ()  # alternatives, the first is the one to publish; () unknown
    note: str = ""  # said on the checklist (why a check is limited)


@dataclass(frozen=True)
class DomainAuthentication:
    """The provider's own view of a sender domain (SendGrid domain authentication, Mandrill
    sending domains). `records`: what it asks to publish, each with its verdict."""

    domain: str
    found: bool  # the provider knows the domain at all
    valid: bool = False
    detail: str = ""  # what the provider said, in words
    records: tuple[DnsRecord, ...] = ()
    problems: tuple[str, ...] = field(default=())


SENDGRID_PLAN = SenderAuthPlan(
    provider="SendGrid",
    spf_include="sendgrid.net",
    # The CNAME targets name the SendGrid user (s1.domainkey.u<id>.wl.sendgrid.net): the domain
    # authentication API gives them; without it any target is accepted.
    dkim=(
        DkimOption(
            "SendGrid automated security (CNAME)",
            (
                DnsRecord("CNAME", "s1._domainkey.{domain}", ""),
                DnsRecord("CNAME", "s2._domainkey.{domain}", ""),
            ),
        ),
    ),
)
MANDRILL_PLAN = SenderAuthPlan(
    provider="Mailchimp Transactional",
    spf_include="spf.mandrillapp.com",
    dkim=(
        DkimOption(
            "Mailchimp Transactional CNAMEs (mte1, mte2)",
            (
                DnsRecord("CNAME", "mte1._domainkey.{domain}", "dkim1.mandrillapp.com"),
                DnsRecord("CNAME", "mte2._domainkey.{domain}", "dkim2.mandrillapp.com"),
            ),
        ),
        DkimOption(
            "Mandrill legacy key (mandrill._domainkey)",
            (DnsRecord("TXT", "mandrill._domainkey.{domain}", ""),),
        ),
    ),
)
MAILCHIMP_MARKETING_PLAN = SenderAuthPlan(
    provider="Mailchimp Marketing",
    scope=SenderAuthScope.DMARC_ONLY,
    note="Mailchimp Marketing sends from Mailchimp's servers and signs for them itself: only the "
    "From domain's DMARC is checked here (authenticate the domain in Mailchimp for DKIM).",
)
UNKNOWN_RELAY_PLAN = SenderAuthPlan(
    provider="the SMTP relay",
    note="The relay is not one whose SPF include and DKIM selectors are known: SPF is checked "
    "for a record's presence only, DKIM not at all (ask the relay's operator which selector "
    "signs).",
)
