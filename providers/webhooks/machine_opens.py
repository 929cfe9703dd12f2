"""Opens that no person made: a mail client's privacy proxy or a security scanner fetching the
tracking image as the mail arrives. They are stored (flagged) but never count as opens.

What is reliable, and used:

- SendGrid's own `sg_machine_open: true` on an open event.
- Apple Mail Privacy Protection fetches through Apple's proxies with the bare user agent
  "Mozilla/5.0" (no platform, no engine: no browser or mail client sends that alone).
- An open within MACHINE_OPEN_SECONDS of delivery (of sending, where the provider reports no
  delivery): the proxy fetches as the mail lands; a person takes longer to see and open it.

Image proxies that fetch on a person's behalf are human opens and are not flagged: Gmail's
"GoogleImageProxy" and Yahoo's "YahooMailProxy" fetch when the reader opens the mail."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

# Apple's proxy fetch, exactly (compared stripped).
APPLE_PRIVACY_PROXY_AGENT = "Mozilla/5.0"


def machine_user_agent(user_agent: str) -> bool:
    """The user agent is a known machine fetcher's (Apple Mail Privacy Protection)."""
    return user_agent.strip() == APPLE_PRIVACY_PROXY_AGENT


def opened_too_soon(opened: datetime, since: datetime | None) -> bool:
    """Opened within MACHINE_OPEN_SECONDS of `since` (delivery, else sending); False when
    `since` is unknown or the rule is off (0)."""
    seconds = settings.MACHINE_OPEN_SECONDS
    if since is None or seconds <= 0:
        return False
    # Either way: the clocks of the event and of `since` may differ by a little.
    return abs((opened - since).total_seconds()) <= seconds
