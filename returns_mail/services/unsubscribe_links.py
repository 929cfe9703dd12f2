"""Per-recipient unsubscribe links for promotional mail: a signed, expiring token that names the
recipient (lower-cased) and the message it came in (its correlation id: an outbox message's or
a campaign recipient's), the links built from it, and the RFC 8058 headers.

The token is the only authority of the public /u/<token> pages (no login, no cookie), so it is
signed with the site's SECRET_KEY under a salt of its own (a token of another feature never
passes here) and expires after UNSUBSCRIBE_LINK_MAX_AGE_DAYS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from config.public_url import absolute_url

SALT = "returns_mail.unsubscribe-link"
ONE_CLICK = "List-Unsubscribe=One-Click"


class LinkInvalid(Exception):
    """Tampered with, or not a token at all."""


class LinkExpired(LinkInvalid):
    """Genuine but older than UNSUBSCRIBE_LINK_MAX_AGE_DAYS."""


@dataclass(frozen=True)
class LinkSubject:
    """Who a token is for and which message carried it."""

    email: str
    ref: str  # the message's correlation id ("" when none)
    locale: str = ""


def link_token(*, email: str, ref: str, locale: str = "") -> str:
    payload = {"e": email.strip().lower(), "r": str(ref)}
    if locale:
        payload["l"] = locale
    return signing.dumps(payload, salt=SALT, compress=True)


def link_subject(token: str) -> LinkSubject:
    """The token's subject; raises LinkExpired or LinkInvalid."""
    max_age = timedelta(days=settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired("the link has expired") from None
    except signing.BadSignature:
        raise LinkInvalid("the link is not valid") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("e"), str)
        or "@" not in (payload["e"])
    ):
        raise LinkInvalid("the link is not valid")
    return LinkSubject(
        email=payload["e"], ref=str(payload.get("r", "")), locale=str(payload.get("l", ""))
    )


@dataclass(frozen=True)
class UnsubscribeLinks:
    unsubscribe_url: str
    preferences_url: str
    headers: dict[str, str]

    def template_values(self) -> dict[str, str]:
        """What a promotional template may show (`{{unsubscribe_url}}`, `{{preferences_url}}`)."""
        return {"unsubscribe_url": self.unsubscribe_url, "preferences_url": self.preferences_url}


def unsubscribe_links(*, email: str, ref: str, locale: str = "") -> UnsubscribeLinks:
    """The links and headers of one promotional email. Without PUBLIC_BASE_URL the links are
    relative to the site (the pages still work from a browser on the site) and the header
    offers the mailto only, as RFC 8058 needs an absolute https URI for one-click."""
    token = link_token(email=email, ref=ref, locale=locale)
    path = reverse("unsubscribe", kwargs={"token": token})
    preferences = reverse("unsubscribe-preferences", kwargs={"token": token})
    https = absolute_url(path)
    uris = []
    if https:
        uris.append(f"<{https}>")
    if settings.UNSUBSCRIBE_MAILTO:
        subject = quote(f"unsubscribe {token}", safe=":")
        uris.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={subject}>")
    headers: dict[str, str] = {}
    if uris:
        headers["List-Unsubscribe"] = ", ".join(uris)
    if https:
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return UnsubscribeLinks(
        unsubscribe_url=https or path,
        preferences_url=absolute_url(preferences) or preferences,
        headers=headers,
    )
