"""The per-message reply-to address, reply+<token>@REPLY_DOMAIN: the token names the message
(its correlation id) and is signed, so a reply links to the message it answers and nobody can
forge or guess a token for another one.

The token is lower-case base32 (some MTAs lower-case local parts): 26 characters of the
correlation id's 16 bytes, then 16 of an 80-bit HMAC-SHA256 under SECRET_KEY with a salt of
its own; 48 characters with "reply+", within a local part's 64."""

from __future__ import annotations

import base64
import hmac
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac

PREFIX = "reply+"
_SALT = "returns_mail.reply-token"
_ID_CHARS = 26  # base32 of 16 bytes, padding dropped
_MAC_BYTES = 10  # 80 bits: base32 without padding, 16 characters
_MAC_CHARS = 16


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _mac(id_bytes: bytes) -> bytes:
    return salted_hmac(_SALT, id_bytes, algorithm="sha256").digest()[:_MAC_BYTES]


def reply_token(correlation_id: uuid.UUID | str) -> str:
    id_bytes = uuid.UUID(str(correlation_id)).bytes
    return _b32(id_bytes) + _b32(_mac(id_bytes))


def reply_address(correlation_id: uuid.UUID | str) -> str | None:
    """reply+<token>@REPLY_DOMAIN, or None when the feature is off (no REPLY_DOMAIN)."""
    domain = settings.REPLY_DOMAIN
    if not domain:
        return None
    return f"{PREFIX}{reply_token(correlation_id)}@{domain}"


def token_correlation_id(token: str) -> uuid.UUID | None:
    """The correlation id a token names, or None when it is not one we signed."""
    token = token.strip().lower()
    if len(token) != _ID_CHARS + _MAC_CHARS:
        return None
    try:
        id_bytes = base64.b32decode((token[:_ID_CHARS] + "======").upper())
        given = base64.b32decode(token[_ID_CHARS:].upper())
    except ValueError:
        return None
    if len(id_bytes) != 16 or not hmac.compare_digest(given, _mac(id_bytes)):
        return None
    return uuid.UUID(bytes=id_bytes)


def address_correlation_id(address: str) -> uuid.UUID | None:
    """The correlation id of a reply address on REPLY_DOMAIN (any case), or None: another
    domain, not a reply address, or a token we did not sign."""
    domain = settings.REPLY_DOMAIN
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not domain or not at or host.lower() != domain:
        return None
    if not local.lower().startswith(PREFIX):
        return None
    return token_correlation_id(local[len(PREFIX) :])


def is_reply_domain(address: str) -> bool:
    domain = settings.REPLY_DOMAIN
    return bool(domain) and address.strip().strip("<>").rpartition("@")[2].lower() == domain
