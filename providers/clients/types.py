"""What goes into and comes out of a provider client: plain, immutable values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The key under which every message's correlation id travels to the provider and comes back in
# its webhooks: SendGrid `custom_args`, Mandrill `metadata` / `recipient_metadata`, SMTP header.
CORRELATION_KEY = "rm_correlation_id"
CORRELATION_HEADER = "X-Returns-Mail-Id"


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""


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


@dataclass(frozen=True)
class BatchRecipient:
    to: Address
    correlation_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


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
