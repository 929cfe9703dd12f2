"""Where provider API calls may go: each kind's own hosts, plus what the operator allows.

An account's `api_base_url` is checked when it is saved (the model's clean: the admin and the
services refuse it with the allowed hosts named) and again every time a client builds its URL
(a row edited in SQL still cannot make us call elsewhere). Allowed:

- ``https`` on the provider's own hosts (ALLOWED_BASE_HOSTS), default port only;
- ``https`` on a host named in ``settings.PROVIDER_EXTRA_HOSTS`` (a regional endpoint, a proxy;
  "*.example.com" allows one label in front), any port;
- any scheme and port on 127.0.0.1, localhost or ::1 when ``settings.PROVIDER_ALLOW_LOOPBACK``
  (the ESP sandbox of the demo, the tests and the benchmarks).

Anything else is refused: other hosts, IP literals (169.254.169.254, 10.0.0.1), user info
(``https://api.sendgrid.com@evil.example``), query strings and fragments. Host names compare
case-insensitively; a trailing dot is refused rather than interpreted.

The SMTP host is not checked here: an SMTP relay is the operator's own choice of server. Its
port is (`smtp_port_problem`): one of SMTP_PORTS or ``settings.SMTP_EXTRA_PORTS``, when the
account is saved and at every connection, so "Test connection" cannot probe other services.

Redirects are never followed (providers/clients/no_redirects.py): a provider call answered
with a 3xx fails permanently, so the credentials cannot be taken to another host that way.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

#: kind -> the provider's own API hosts ("*." allows exactly one label in front).
ALLOWED_BASE_HOSTS: dict[str, tuple[str, ...]] = {
    "sendgrid": ("api.sendgrid.com", "api.eu.sendgrid.com"),
    "mailchimp_transactional": ("mandrillapp.com",),
    "mailchimp_marketing": ("*.api.mailchimp.com",),
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: SMTP relay ports: 25 (relay), 465 (implicit TLS), 587 (submission), 2525 (the relays' spare).
SMTP_PORTS = (25, 465, 587, 2525)

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def allowed_hosts(kind: str) -> list[str]:
    """The hosts an account of ``kind`` may call, as shown in error messages."""
    hosts = [*ALLOWED_BASE_HOSTS.get(kind, ()), *extra_hosts()]
    if settings.PROVIDER_ALLOW_LOOPBACK:
        hosts += [f"{host} (loopback, http allowed)" for host in LOOPBACK_HOSTS]
    return hosts


def extra_hosts() -> list[str]:
    return [h.strip().lower() for h in settings.PROVIDER_EXTRA_HOSTS if h.strip()]


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        prefix, dot, rest = host.partition(".")
        return bool(dot) and rest == pattern[2:] and bool(_LABEL.match(prefix))
    return host == pattern


def base_url_problem(kind: str, url: str) -> str:
    """Why ``url`` may not be the API base of a ``kind`` account ("" when it may)."""
    if not url:
        return ""
    allowed = ", ".join(allowed_hosts(kind)) or "none"
    refused = f"{url!r} is not an allowed API base URL for this kind of account"
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return f"{refused}: it contains whitespace, control characters or backslashes."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{refused}: it is not a valid URL."
    if "@" in parts.netloc:
        return f"{refused}: it must not contain a user name or password."
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"{refused}: it must not have a query string or fragment."
    host = (parts.hostname or "").lower()
    if settings.PROVIDER_ALLOW_LOOPBACK and host in LOOPBACK_HOSTS:
        if parts.scheme in ("http", "https"):
            return ""
        return f"{refused}: use http or https."
    if parts.scheme != "https":
        return f"{refused}: use https. Allowed hosts: {allowed}."
    own = any(_matches(host, pattern) for pattern in ALLOWED_BASE_HOSTS.get(kind, ()))
    if own and port not in (None, 443):
        return f"{refused}: use the default https port. Allowed hosts: {allowed}."
    if own or any(_matches(host, pattern) for pattern in extra_hosts()):
        return ""
    return f"{refused}: the host must be one of: {allowed}."


def smtp_ports_allowed() -> list[int]:
    return sorted({*SMTP_PORTS, *settings.SMTP_EXTRA_PORTS})


def smtp_port_problem(port: int | None) -> str:
    """Why an SMTP account may not connect to ``port`` ("" when it may)."""
    allowed = smtp_ports_allowed()
    if port in allowed:
        return ""
    return (
        f"Port {port} is not an allowed SMTP port; use one of "
        f"{', '.join(map(str, allowed))} (SMTP_EXTRA_PORTS allows more)."
    )
