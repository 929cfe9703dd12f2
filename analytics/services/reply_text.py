"""Reading a reply: the customer's own words without the quoted history, and whether it is an
auto-reply (out of office, vacation notices) rather than a person's answer."""

from __future__ import annotations

import re
from collections.abc import Mapping

# The line a mail client puts above the quoted mail: "On Tue, 1 Dec 2026, Shop <x@y> wrote:"
# (often wrapped onto two lines), and its common translations.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\bwrote|le\b.{0,300}\ba écrit|am\b.{0,300}\bschrieb"
    r"|el\b.{0,300}\bescribió|op\b.{0,300}\bschreef)\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
# Outlook: a separator line, or a "From: ..." block with "Sent:"/"Date:" in the next lines.
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message)\s*-{2,}", re.I)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_FROM = re.compile(r"^\s*\*?(from|von|de)\s*:\*?\s", re.IGNORECASE)
_SENT = re.compile(r"^\s*\*?(sent|date|gesendet|envoyé)\s*:", re.IGNORECASE)


def quoted_history_strip(text: str) -> str:
    """`text` up to where the quoted history begins, without ">" lines, trimmed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _history_starts(lines, index):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _history_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _ORIGINAL.match(line) or _RULE.match(line):
        return True
    if _ATTRIBUTION.match(line):
        return True
    # An attribution wrapped onto the next line ("On ..., Shop <x@y>\nwrote:").
    wrapped = index + 1 < len(lines) and line.strip().lower().startswith(("on ", "le ", "am "))
    if wrapped and _ATTRIBUTION.match(f"{line} {lines[index + 1]}"):
        return True
    if _FROM.match(line):
        return any(_SENT.match(following) for following in lines[index + 1 : index + 5])
    return False


_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|auto:"
    r"|autoreply|vacation|abwesenheit|réponse automatique|respuesta automática)",
    re.IGNORECASE,
)
_AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "auto-reply"}


def is_auto_reply(headers: Mapping[str, str], subject: str) -> bool:
    """RFC 3834's Auto-Submitted (anything but "no"), the X-Autoreply / X-Autorespond
    headers, a bulk/junk/auto_reply Precedence, or an out-of-office subject."""
    lowered = {name.lower(): str(value).strip().lower() for name, value in headers.items()}
    if lowered.get("auto-submitted", "no") not in ("no", ""):
        return True
    if "x-autoreply" in lowered or "x-autorespond" in lowered:
        return True
    if lowered.get("precedence", "") in _AUTO_PRECEDENCE:
        return True
    return bool(_AUTO_SUBJECT.match(subject or ""))
