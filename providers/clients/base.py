"""The interface every provider client implements, and the registry that picks one.

A client is built for one account, per use (cheap: the SDK objects are built lazily). Every
call has a timeout (`settings.PROVIDER_TIMEOUT`). Errors leave a client only as
`providers.exceptions.ProviderError`, with the account's secrets scrubbed from the message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from providers.clients.capability_types import (
    CampaignSending,
    Capability,
    Reporting,
    TemplateLanguage,
)
from providers.clients.sender_auth_types import (
    UNKNOWN_RELAY_PLAN,
    DomainAuthentication,
    SenderAuthPlan,
)
from providers.clients.suppression_types import SuppressionPage
from providers.clients.types import (
    Address,
    BatchEmail,
    CredentialCheck,
    OutgoingEmail,
    RemoteTemplate,
    SendResult,
    TemplateContent,
    TemplatePushResult,
)
from providers.exceptions import (
    ProviderConfigurationError,
    ProviderError,
    ProviderRequestError,
    is_permanent_status,
)
from providers.hosts import base_url_problem

if TYPE_CHECKING:
    from providers.models import ProviderAccount

REDACTED = "[redacted]"


def scrub_secrets(text: str, account: ProviderAccount | None) -> str:
    """``text`` with every secret of ``account`` replaced (for anything stored or logged)."""
    for value in account.secret_values() if account is not None else ():
        # The value as stored, without its surrounding whitespace, and as Python escapes it
        # (an error message may quote a repr: a line break then reads "\\r\\n").
        for form in {value, value.strip(), repr(value)[1:-1]}:
            if form and len(form) >= 4:
                text = text.replace(form, REDACTED)
    return text


# kind -> "module:Class", imported on first use so an SDK is loaded only where it is needed.
CLIENTS = {
    "sendgrid": "providers.clients.sendgrid:SendGridClient",
    "mailchimp_marketing": "providers.clients.mailchimp_marketing:MailchimpMarketingClient",
    "mailchimp_transactional": "providers.clients.mailchimp_transactional:MandrillClient",
    "smtp": "providers.clients.smtp:SmtpClient",
}


def client_class(kind: str) -> type[ProviderClient]:
    module_name, _, class_name = CLIENTS[kind].partition(":")
    return getattr(import_module(module_name), class_name)


# The interface method that provides each capability: a client can do what it implements.
_PROVIDED_BY = {
    Capability.SEND: "send",
    Capability.SEND_BATCH: "send_batch",
    Capability.DOMAIN_AUTHENTICATION: "domain_authentication",
    Capability.LIST_SUPPRESSIONS: "suppressions_listed",
    Capability.ADD_UNSUBSCRIBES: "unsubscribes_add",
    Capability.CAMPAIGN_REPORTS: "campaign_report",
}


class ProviderClient:
    """One kind's client. Its ClassVars declare what the kind can do, beyond the capabilities
    its methods give it (see providers/clients/capabilities.py for the table)."""

    kind: ClassVar[str]
    #: Where the provider's API lives when the account leaves `api_base_url` empty.
    default_base_url: ClassVar[str] = ""
    #: What to use instead, for the capabilities this kind lacks (said with the refusal).
    instead: ClassVar[dict[Capability, str]] = {}
    #: What its webhooks report of each email sent.
    reporting: ClassVar[Reporting] = Reporting.EACH_EMAIL
    #: How it sends a campaign.
    campaigns: ClassVar[CampaignSending] = CampaignSending.NONE
    #: Runner tasks sending one campaign's batches at once: the throttle (with Retry-After).
    campaign_runners: ClassVar[int] = 1
    #: `send_batch` renders only a template stored at the provider, never sources we send.
    batch_needs_stored_template: ClassVar[bool] = False
    #: A campaign must name the provider's unsubscribe group: its unsubscribe link.
    campaign_needs_unsubscribe_group: ClassVar[bool] = False
    #: What its stored templates are written in (NONE: it stores none; we render).
    template_language: ClassVar[TemplateLanguage] = TemplateLanguage.NONE
    #: The template purposes ("transactional", "promotional") it keeps copies for.
    template_purposes: ClassVar[frozenset[str]] = frozenset()
    #: It keeps an audience of our customers, synced from the customer table.
    syncs_audience: ClassVar[bool] = False
    #: What it needs published at the sender domain (SPF include, DKIM records); see
    #: `sender_auth_plan`.
    sender_auth: ClassVar[SenderAuthPlan] = UNKNOWN_RELAY_PLAN

    @classmethod
    def can(cls, capability: Capability) -> bool:
        method = _PROVIDED_BY[capability]
        return getattr(cls, method) is not getattr(ProviderClient, method)

    def __init__(self, account: ProviderAccount, *, timeout: float | None = None):
        self.account = account
        self.timeout = float(timeout if timeout is not None else settings.PROVIDER_TIMEOUT)

    # --- the interface -----------------------------------------------------------------------
    def send(self, email: OutgoingEmail) -> SendResult:
        raise self.unsupported("sending a transactional email", Capability.SEND)

    def send_batch(self, batch: BatchEmail) -> list[SendResult]:
        raise self.unsupported("batch sending", Capability.SEND_BATCH)

    def accepted_recipients(self, key: str, value: str, *, at_most: int | None = None) -> set[str]:
        """The addresses (lower-cased) of the mail the provider accepted carrying the custom
        argument / metadata `key` = `value` (BatchEmail.custom_args), read from its message
        activity. `at_most`: how many messages can carry it (the request's recipients), so a
        full page of answers is known to be complete. Raises ProviderError when the provider
        cannot say (a full page that may hide more is such a case)."""
        raise self.unsupported("looking up what was sent")

    def check_credentials(self) -> CredentialCheck:
        raise NotImplementedError

    def suppressions_listed(
        self, *, since: datetime | None = None, resume_from: Mapping[str, Any] | None = None
    ) -> Iterator[SuppressionPage]:
        """The provider's suppression lists, page by page (each page's `resume` given back as
        `resume_from` continues after it). `since`: only entries listed from then on, where the
        provider can filter by time (others are read whole). A rate limit or any failure is
        raised between pages: the pages already yielded stay good."""
        raise self.unsupported("reading suppression lists", Capability.LIST_SUPPRESSIONS)

    def unsubscribes_add(
        self, *, emails: Sequence[str], comment: str = "", groups: Sequence[int] = ()
    ) -> int:
        """Put `emails` on the provider's unsubscribe list (idempotent: one already there stays
        as it is); `groups`: the unsubscribe groups promotional mail uses, where the provider
        has them. Returns how many calls it took."""
        raise self.unsupported("adding unsubscribes", Capability.ADD_UNSUBSCRIBES)

    def campaign_report(self, campaign_id: str):
        """The provider's summary of a campaign it sent (`report_types.CampaignReportSummary`)."""
        raise self.unsupported("reading campaign reports", Capability.CAMPAIGN_REPORTS)

    def campaign_email_activity(self, campaign_id: str, *, since=None, offset: int = 0):
        """Each recipient's actions on a campaign the provider sent, page by page."""
        raise self.unsupported("reading campaign reports", Capability.CAMPAIGN_REPORTS)

    def push_template(
        self, template: TemplateContent, *, remote_id: str = ""
    ) -> TemplatePushResult:
        """Create (no `remote_id`) or update the provider's copy of a template version."""
        raise self.unsupported("templates")

    def fetch_template(self, remote_id: str) -> RemoteTemplate | None:
        """The provider's current copy of a pushed template (None: it no longer exists)."""
        raise self.unsupported("templates")

    # --- sender authentication ---------------------------------------------------------------
    def sender_auth_plan(self) -> SenderAuthPlan:
        """What the sender domain must publish for this account (the kind's plan by default)."""
        return self.sender_auth

    def domain_authentication(self, domain: str) -> DomainAuthentication:
        """The provider's own view of `domain`'s authentication
        (Capability.DOMAIN_AUTHENTICATION)."""
        raise self.unsupported("domain authentication status", Capability.DOMAIN_AUTHENTICATION)

    # --- helpers for implementations ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The account's API base, checked against the allowed hosts on every use (a row
        edited past the model's validation still cannot send our API key elsewhere)."""
        return checked_base_url(self.account, self.account.api_base_url or self.default_base_url)

    def secret(self, field: str) -> str:
        """The decrypted secret, or a configuration error: never ciphertext, never empty."""
        return self.account.secret(field)

    def sender(self, email_sender: Address | None = None) -> Address:
        """The message's sender, or the account's default one."""
        return email_sender or Address(self.account.from_email, self.account.from_name)

    def scrub(self, text: str) -> str:
        """Remove every secret of the account from ``text`` (provider messages can echo them)."""
        return scrub_secrets(text, self.account)

    def error(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        permanent: bool | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> ProviderRequestError:
        return ProviderRequestError(
            self.scrub(str(message)),
            provider=self.kind,
            account=self.account.name,
            status=status,
            code=code,
            permanent=is_permanent_status(status) if permanent is None else permanent,
            retry_after=retry_after,
            ambiguous=ambiguous,
        )

    def unsupported(
        self, what: str, capability: Capability | None = None
    ) -> ProviderConfigurationError:
        hint = self.instead.get(capability) if capability else None
        return ProviderConfigurationError(
            f"{self.kind} accounts do not support {what}" + (f" ({hint})" if hint else ""),
            provider=self.kind,
            account=self.account.name,
        )

    def timed_check(self, probe) -> CredentialCheck:
        """Run ``probe()`` (returns the provider's answer as text) and measure its latency.

        A provider error becomes a failed check carrying the provider's words."""
        started = time.perf_counter()
        try:
            detail = probe()
            ok = True
        except ProviderError as exc:
            detail, ok = str(exc), False
        latency_ms = (time.perf_counter() - started) * 1000
        return CredentialCheck(ok=ok, latency_ms=round(latency_ms, 1), detail=self.scrub(detail))


def checked_base_url(account: ProviderAccount, url: str) -> str:
    """``url`` without its trailing slash, or ProviderConfigurationError if it is not allowed
    for ``account`` (see providers/hosts.py)."""
    if problem := base_url_problem(account.kind, url):
        raise ProviderConfigurationError(problem, provider=account.kind, account=account.name)
    return url.rstrip("/")


def plain_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Template data as plain JSON: the SDKs' json.dumps cannot take dates, Decimals, UUIDs."""
    return json.loads(json.dumps(dict(data), cls=DjangoJSONEncoder))


def chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def client_for(account: ProviderAccount, *, timeout: float | None = None) -> ProviderClient:
    return client_class(account.kind)(account, timeout=timeout)
