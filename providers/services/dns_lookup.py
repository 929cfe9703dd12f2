"""DNS lookups for the sender-authentication checks, through dnspython's resolver: the servers
in SENDER_AUTH_NAMESERVERS (empty: the system's), every lookup bounded by
SENDER_AUTH_DNS_TIMEOUT. "No such record" is an answer (empty); a timeout, SERVFAIL or no
usable server is `DnsUnavailable`: the check could not be made, which is not a failure."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings


class DnsUnavailable(Exception):
    """The DNS gave no verdict (timeout, SERVFAIL, no server): ask again later."""


class DnsLookup:
    """One resolver for one checklist run; answers are cached for the run (the SPF lookup count
    and the DKIM check may ask the same name twice). After MAX_TIMEOUTS lookups timed out, the
    rest are not asked: a run (and the admin's "Test connection") stays bounded when the DNS
    does not answer at all."""

    MAX_TIMEOUTS = 2

    def __init__(self, resolver: dns.resolver.Resolver | None = None):
        self._resolver = resolver
        self._cache: dict[tuple[str, str], list[str]] = {}
        self._timeouts = 0

    def txt(self, name: str) -> list[str]:
        """The TXT strings at `name` (each record's pieces joined), [] when there are none."""
        return self._ask(name, "TXT")

    def cname(self, name: str) -> str:
        """The CNAME target of `name` without its final dot, "" when there is none."""
        found = self._ask(name, "CNAME")
        return found[0] if found else ""

    def _ask(self, name: str, rdtype: str) -> list[str]:
        key = (name.lower().rstrip("."), rdtype)
        if key not in self._cache:
            self._cache[key] = self._resolve(*key)
        return self._cache[key]

    @property
    def resolver(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            self._resolver = new_resolver()  # DnsUnavailable when the host has no DNS setup
        return self._resolver

    def _resolve(self, name: str, rdtype: str) -> list[str]:
        if self._timeouts >= self.MAX_TIMEOUTS:
            raise DnsUnavailable(
                f"not asked for {name} ({rdtype}): {self._timeouts} lookups timed out already"
            )
        resolver = self.resolver
        try:
            answer = resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as exc:  # every server said SERVFAIL or refused
            raise DnsUnavailable(f"no DNS server answered for {name} ({rdtype}): SERVFAIL") from exc
        except dns.exception.Timeout as exc:
            self._timeouts += 1
            raise DnsUnavailable(
                f"no DNS answer for {name} ({rdtype}) within {resolver.lifetime:g}s"
            ) from exc
        except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong):
            return []  # not a name the DNS can hold: nothing is published there
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"DNS lookup of {name} ({rdtype}) failed: {exc}") from exc
        if rdtype == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        return [str(r.target).rstrip(".").lower() for r in answer]


def new_resolver() -> dns.resolver.Resolver:
    """A resolver on SENDER_AUTH_NAMESERVERS (or the system's configuration)."""
    servers = settings.SENDER_AUTH_NAMESERVERS
    try:
        resolver = dns.resolver.Resolver(configure=not servers)
    except dns.resolver.NoResolverConfiguration as exc:
        raise DnsUnavailable("no DNS server configured on this host") from exc
    if servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in servers]
    lifetime = float(settings.SENDER_AUTH_DNS_TIMEOUT)
    resolver.lifetime = lifetime
    resolver.timeout = lifetime  # one try may take it all; the lifetime bounds the lookup
    resolver.cache = None  # a checklist run asks fresh: a record just published counts
    return resolver
