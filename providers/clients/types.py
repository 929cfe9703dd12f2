"""What goes into and comes out of a provider client: plain, immutable values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The key under which every message's correlation id travels to the provider and comes back in
# its webhooks: SendGrid `custom_args`, Mandrill `metadata` / `recipient_metadata`, SMTP header.
CORRELATION_KEY = "rm_correlation_id"
CORRELATION_HEADER = "X-Returns-Mail-Id"

# Line breaks would end the header (SMTP refuses them, the HTTP APIs pass them on), other
# control characters and tabs are refused or mangled along the way.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_SPACING = re.compile(f"[ {_CONTROLS}]+")


def header_text(value: str) -> str:
    """`value` fit for one header line: each run of line breaks, tabs, other control
    characters and spaces is one space; the ends are trimmed."""
    return _SPACING.sub(" ", value or "").strip()


def fits_header(value: str) -> bool:
    """Whether `value` can go into a header as it is (no line break or other control)."""
    return not _CONTROL.search(value)


@dataclass(frozen=True)
class Address:
    """An address with its display name, the name made fit for a header whatever its source
    (a customer's name, an account's sender name)."""

    email: str
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "name", header_text(self.name))


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered transactional email to one recipient."""

    to: Address
    subject: str
    html: str
    text: str
    correlation_id: str
    sender: Address | None = None  # None: the account's default sender
    reply_to: Address | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    # Send with the template stored at the provider instead of the content above: it renders
    # `remote_template_id` with `template_data` (SendGrid dynamic template; Mandrill template).
    remote_template_id: str = ""
    template_data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # Every provider gets header values on one line (names: see Address).
        object.__setattr__(self, "subject", header_text(self.subject))
        object.__setattr__(
            self, "headers", {name: header_text(value) for name, value in self.headers.items()}
        )


@dataclass(frozen=True)
class BatchRecipient:
    to: Address
    correlation_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    # This recipient's own headers (its List-Unsubscribe link), on one line each.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(
            self, "headers", {name: header_text(value) for name, value in self.headers.items()}
        )


@dataclass(frozen=True)
class BatchEmail:
    """One email to many recipients, personalised by the provider from each recipient's data.

    `subject`, `html` and `text` are Handlebars sources; `remote_template_id` names a template
    already pushed to the account (SendGrid needs one: it renders Handlebars only in dynamic
    templates).
    """

    recipients: Sequence[BatchRecipient]
    subject: str = ""
    html: str = ""
    text: str = ""
    remote_template_id: str = ""
    sender: Address | None = None
    reply_to: Address | None = None
    categories: tuple[str, ...] = ()
    unsubscribe_group_id: int | None = None
    # Sent with every recipient (SendGrid message-level `custom_args`, Mandrill `metadata`) and
    # searchable afterwards (`ProviderClient.accepted_recipients`): how a crashed bulk send
    # finds out what the provider already took.
    custom_args: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        # The provider renders the subject: its source on one line, as for OutgoingEmail.
        object.__setattr__(self, "subject", header_text(self.subject))


@dataclass(frozen=True)
class RecipientResult:
    email: str
    status: str  # accepted | queued | scheduled | sent | rejected | invalid
    reason: str = ""
    provider_message_id: str = ""

    @property
    def accepted(self) -> bool:
        return self.status not in ("rejected", "invalid")


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    recipients: tuple[RecipientResult, ...] = ()
    sandboxed: bool = False  # accepted in the provider's sandbox mode: nothing was delivered


@dataclass(frozen=True)
class CredentialCheck:
    ok: bool
    latency_ms: float
    detail: str  # the provider's answer, e.g. its scopes or "PONG!"; never a secret


@dataclass(frozen=True)
class TemplateContent:
    """A template version as providers receive it (Handlebars; merge tags for Mailchimp)."""

    name: str
    slug: str
    subject: str
    html: str
    text: str
    version_label: str = ""


@dataclass(frozen=True)
class RemoteTemplate:
    """The provider's current copy of a template, read back to detect drift."""

    remote_id: str
    subject: str = ""
    html: str = ""
    text: str = ""
    # When the provider says it was last edited; the only signal where the API cannot return
    # the content itself (Mailchimp Marketing).
    edited_at: datetime | None = None
    content_available: bool = True


@dataclass(frozen=True)
class TemplatePushResult:
    remote_id: str
    remote_version_id: str = ""
