"""Mailchimp Transactional (Mandrill) through the official `mailchimp_transactional` SDK.

SDK quirks kept in here:
- errors are HTTP 500 with `{"status": "error", "name": ...}` even for our own mistakes, so they
  are classified by `name`, not by status;
- the SDK adds `key` to the dict it is given (and its methods share a mutable `{}` default), so
  every call gets a fresh dict;
- connection errors are not wrapped: `requests` exceptions reach us as they are;
- `ApiClientError` keeps no headers, so the last response of each thread is kept for
  `Retry-After`;
- an empty body comes back as a raw `requests.Response`, even for an error status.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import formataddr
from typing import Any

import mailchimp_transactional
import requests
from mailchimp_transactional.api_client import ApiClientError

from providers.clients.base import ProviderClient, chunks, plain_json
from providers.clients.capability_types import CampaignSending, Reporting, TemplateLanguage
from providers.clients.mandrill_rejects import MandrillRejects, mandrill_time
from providers.clients.requests_transport import LastResponse, describe_transport_failure
from providers.clients.sender_auth_types import MANDRILL_PLAN, DomainAuthentication
from providers.clients.sender_domains import mandrill_sending_domain
from providers.clients.types import (
    CORRELATION_KEY,
    BatchEmail,
    BatchRecipient,
    CredentialCheck,
    OutgoingEmail,
    RecipientResult,
    RemoteTemplate,
    SendResult,
    TemplateContent,
    TemplatePushResult,
)
from providers.exceptions import ProviderRequestError, is_permanent_status

MAX_RECIPIENTS_PER_CALL = 1000
# messages/search answers at most this many entries (no paging; Mandrill allows 20 searches/min).
SEARCH_LIMIT = 1000
NOT_ACCEPTED_STATES = frozenset({"rejected", "invalid"})
# Names that mean "this request will never succeed as it is". Any other `Unknown_*` /
# `Invalid_*` name is a client mistake too; an unknown name on a 5xx is retried.
PERMANENT_NAMES = frozenset(
    {
        "Invalid_Key",
        "ValidationError",
        "PaymentRequired",
        "Unknown_Subaccount",
        "Unknown_Template",
        "Invalid_Template",
        "Unknown_Sender",
        "Unknown_Message",
        "Invalid_Tag_Name",
        "Invalid_Reject",
        "Unknown_Url",
        "Unknown_TrackingDomain",
        "Unknown_Webhook",
        "Unknown_InboundDomain",
        "Unknown_InboundRoute",
        "Unknown_Export",
        "IP_ProvisionLimit",
        "Unknown_Pool",
        "NoSendingHistory",
        "PoorReputation",
        "Unknown_IP",
        "Metadata_FieldLimit",
        "Unknown_MetadataField",
    }
)
TRANSIENT_NAMES = frozenset({"ServiceUnavailable", "GeneralError"})
RESULT_STATUSES = frozenset({"sent", "queued", "scheduled", "rejected", "invalid"})


def name_is_permanent(name: str, status: int | None) -> bool:
    if status == 429 or name in TRANSIENT_NAMES:
        return False
    if name in PERMANENT_NAMES or name.startswith(("Unknown_", "Invalid_")):
        return True
    return is_permanent_status(status)


class MandrillClient(MandrillRejects, ProviderClient):
    kind = "mailchimp_transactional"
    reporting = Reporting.OUTCOMES_ONLY
    default_base_url = "https://mandrillapp.com"
    campaigns = CampaignSending.BATCHES
    # Mandrill publishes no sending rate limit and answers 429 when pushed: 2 keeps a 2-core
    # host busy without that.
    campaign_runners = 2
    template_language = TemplateLanguage.HANDLEBARS  # merge_language: handlebars
    template_purposes = frozenset({"transactional", "promotional"})

    def __init__(self, account, *, timeout: float | None = None):
        super().__init__(account, timeout=timeout)
        self._sdk: mailchimp_transactional.Client | None = None
        self._last = LastResponse()

    # --- the interface -----------------------------------------------------------------------
    def send(self, email: OutgoingEmail) -> SendResult:
        sender = self.sender(email.sender)
        message = {
            "from_email": sender.email,
            "subject": email.subject,
            "html": email.html,
            "text": email.text,
            "to": [_recipient(email.to.email, email.to.name)],
            "headers": self._headers(email.headers, email.reply_to),
            "tags": list(email.categories),
            "metadata": {CORRELATION_KEY: email.correlation_id},
        }
        if sender.name:
            message["from_name"] = sender.name
        if email.remote_template_id:
            # The stored template renders subject and content from the data.
            for part in ("subject", "html", "text"):
                message.pop(part)
            message.update(
                merge=True,
                merge_language="handlebars",
                global_merge_vars=[
                    {"name": k, "content": v} for k, v in plain_json(email.template_data).items()
                ],
            )
            body = {
                "template_name": email.remote_template_id,
                "template_content": [],
                "message": message,
            }
            answer = self._call("messages", "send_template", body)
        else:
            answer = self._call("messages", "send", {"message": message})
        results = self._recipient_results(answer)
        return SendResult(
            provider_message_id=results[0].provider_message_id if results else "",
            recipients=tuple(results),
            sandboxed=self.account.sandbox_mode,
        )

    def send_batch(self, batch: BatchEmail) -> list[SendResult]:
        """One `messages/send` (or `send-template`) per 1,000 recipients (per recipient when they
        carry headers of their own), each recipient seeing only itself. One `SendResult` per
        call: Mandrill gives no id per call, so `provider_message_id` is empty and each
        recipient carries its own message id.

        If a later call fails, the error carries `partial_results` (the calls that succeeded),
        so a retry can skip recipients already sent to."""
        results: list[SendResult] = []
        # Mandrill's headers are per message, not per recipient: recipients with headers of
        # their own (a List-Unsubscribe link each) go one per call.
        own_headers = any(r.headers for r in batch.recipients)
        for chunk in chunks(batch.recipients, 1 if own_headers else MAX_RECIPIENTS_PER_CALL):
            message = self._batch_message(batch, chunk)
            try:
                if batch.remote_template_id:
                    body = {
                        "template_name": batch.remote_template_id,
                        "template_content": [],
                        "message": message,
                    }
                    answer = self._call("messages", "send_template", body)
                else:
                    answer = self._call("messages", "send", {"message": message})
            except ProviderRequestError as exc:
                exc.partial_results = list(results)
                raise
            results.append(
                SendResult(
                    provider_message_id="",
                    recipients=tuple(self._recipient_results(answer)),
                    sandboxed=self.account.sandbox_mode,
                )
            )
        return results

    def accepted_recipients(self, key: str, value: str, *, at_most: int | None = None) -> set[str]:
        """Who Mandrill took mail for with metadata `key` = `value` (searched as `u_<key>`; the
        field must be one of the account's indexed metadata fields). Without dates Mandrill
        searches the last 7 days, at most 20 times a minute (429 beyond: transient)."""
        answer = self._call(
            "messages", "search", {"query": f"u_{key}:{value}", "limit": SEARCH_LIMIT}
        )
        if answer is None:  # the SDK turns an empty list (falsy JSON) into "no body"
            answer = []
        if not isinstance(answer, list):
            raise self.error(
                f"unexpected answer to messages/search: {str(answer)[:200]}", permanent=False
            )
        if len(answer) >= SEARCH_LIMIT and (at_most is None or at_most > SEARCH_LIMIT):
            # No paging: a full answer may hide more, and a partial set would make a resume
            # send twice.
            raise self.error(
                f"the message search for {key}={value} is incomplete: Mandrill returned its "
                f"maximum of {SEARCH_LIMIT} messages",
                permanent=True,  # asking again gets the same full page
            )
        return {
            str(entry["email"]).lower()
            for entry in answer
            if isinstance(entry, dict)
            and entry.get("email")
            and entry.get("state") not in NOT_ACCEPTED_STATES
        }

    def check_credentials(self) -> CredentialCheck:
        return self.timed_check(lambda: str(self._call("users", "ping", {})))

    def push_template(
        self, template: TemplateContent, *, remote_id: str = ""
    ) -> TemplatePushResult:
        """Add (or update) the draft, then publish it: what is sent is the published copy. The
        remote id is Mandrill's slug. Without a remote id, a template already there under the
        slug (a repeated task, a lost remote id) is updated; with one Mandrill no longer has,
        the push fails with Unknown_Template (`fetch_template` says None)."""
        fields = {
            "from_email": self.account.from_email,
            "subject": template.subject,
            "code": template.html,
            "text": template.text,
            "publish": False,
        }
        if self.account.from_name:
            fields["from_name"] = self.account.from_name
        name = remote_id or template.slug
        if remote_id:
            self._call("templates", "update", {"name": name, **fields})
        else:
            try:
                self._call("templates", "add", {"name": name, **fields})
            except ProviderRequestError as exc:
                if exc.code != "Invalid_Template":
                    raise
                # Already there (a repeated task, or a lost remote id): update it instead.
                self._call("templates", "update", {"name": name, **fields})
        published = self._call("templates", "publish", {"name": name})
        return TemplatePushResult(
            remote_id=str(published.get("slug") or name),
            remote_version_id=str(published.get("published_at") or ""),
        )

    def fetch_template(self, remote_id: str) -> RemoteTemplate | None:
        """The PUBLISHED copy (what `send-template` sends; a draft edit is not drift until it is
        published), or None when Mandrill has no such template."""
        try:
            info = self._call("templates", "info", {"name": remote_id})
        except ProviderRequestError as exc:
            if exc.code == "Unknown_Template":
                return None
            raise
        if not isinstance(info, dict):
            raise self.error(
                f"unexpected answer to templates/info: {str(info)[:200]}", permanent=False
            )
        return RemoteTemplate(
            remote_id=str(info.get("slug") or remote_id),
            subject=str(info.get("publish_subject") or ""),
            html=str(info.get("publish_code") or ""),
            text=str(info.get("publish_text") or ""),
            edited_at=mandrill_time(info.get("published_at") or info.get("updated_at")),
        )

    # --- sender authentication: sending domains ----------------------------------------------
    sender_auth = MANDRILL_PLAN

    def domain_authentication(self, domain: str) -> DomainAuthentication:
        """Mandrill's view of `domain` (`senders/domains`, a read: `check-domain` would add it):
        SPF and DKIM valid, verified, `valid_signing`; the records to publish for what is not."""
        domain = domain.lower()
        answer = self._call("senders", "domains", {}) or []
        if not isinstance(answer, list):
            raise self.error(
                f"unexpected answer to senders/domains: {str(answer)[:200]}", permanent=False
            )
        entry = next(
            (
                d
                for d in answer
                if isinstance(d, dict) and str(d.get("domain", "")).lower() == domain
            ),
            None,
        )
        if entry is None:
            return DomainAuthentication(
                domain=domain,
                found=False,
                detail=f"{domain} is not a sending domain of this Mailchimp Transactional "
                "account (Settings, Domains, Sending domains)",
            )
        return mandrill_sending_domain(domain, entry)

    # --- building requests -------------------------------------------------------------------
    def _headers(self, extra, reply_to) -> dict[str, str]:
        headers = dict(extra)
        if reply_to is not None:
            headers["Reply-To"] = formataddr((reply_to.name, reply_to.email))
        elif self.account.reply_to:
            headers["Reply-To"] = self.account.reply_to
        return headers

    def _batch_message(self, batch: BatchEmail, chunk: Sequence[BatchRecipient]) -> dict:
        sender = self.sender(batch.sender)
        message: dict[str, Any] = {"from_email": sender.email}
        if sender.name:
            message["from_name"] = sender.name
        if batch.subject:
            message["subject"] = batch.subject
        if not batch.remote_template_id:
            message.update(html=batch.html, text=batch.text)
        message.update(
            to=[_recipient(r.to.email, r.to.name) for r in chunk],
            headers=self._headers(chunk[0].headers if len(chunk) == 1 else {}, batch.reply_to),
            tags=list(batch.categories),
            preserve_recipients=False,
            merge=True,
            merge_language="handlebars",
            merge_vars=[
                {
                    "rcpt": r.to.email,
                    "vars": [{"name": k, "content": v} for k, v in plain_json(r.data).items()],
                }
                for r in chunk
            ],
            recipient_metadata=[
                {"rcpt": r.to.email, "values": {CORRELATION_KEY: r.correlation_id}} for r in chunk
            ],
        )
        if batch.custom_args:
            # Shared by every recipient, and searchable (`accepted_recipients`).
            message["metadata"] = dict(batch.custom_args)
        return message

    def _recipient_results(self, answer: Any) -> list[RecipientResult]:
        if not isinstance(answer, list):
            raise self.error(f"unexpected answer to a send: {str(answer)[:200]}", permanent=False)
        results = []
        for entry in answer:
            status = str(entry.get("status") or "")
            results.append(
                RecipientResult(
                    email=str(entry.get("email") or ""),
                    status=status if status in RESULT_STATUSES else "queued",
                    reason=str(entry.get("reject_reason") or ""),
                    provider_message_id=str(entry.get("_id") or ""),
                )
            )
        return results

    # --- calling the SDK ---------------------------------------------------------------------
    def _client(self) -> mailchimp_transactional.Client:
        if self._sdk is None:
            sdk = mailchimp_transactional.Client(self.secret("api_key"))
            sdk.api_client.host = f"{self.base_url}/api/1.3"  # shared by every API group
            sdk.set_timeout(self.timeout)
            self._last.watch(sdk.api_client)
            self._sdk = sdk
        return self._sdk

    def _call(self, group: str, method: str, body: dict) -> Any:
        """`client.<group>.<method>(body)`; any failure becomes a ProviderRequestError."""
        api = getattr(self._client(), group)
        self._last.forget()
        try:
            answer = getattr(api, method)(dict(body))  # a copy: the SDK adds the key to it
        except ApiClientError as exc:
            raise self._api_error(exc) from None
        except requests.RequestException as exc:
            failure = describe_transport_failure(exc)
            raise self.error(
                failure.description, permanent=failure.permanent, ambiguous=failure.ambiguous
            ) from None
        if isinstance(answer, requests.Response):  # empty body, whatever the status
            if not answer.ok:
                raise self._status_error(answer.status_code, answer.reason or "empty answer")
            return None
        return answer

    def _status_error(self, status: int, message: str) -> ProviderRequestError:
        permanent = is_permanent_status(status)
        return self.error(
            message,
            status=status,
            permanent=permanent,
            retry_after=None if permanent else self._last.retry_after(),
        )

    def _api_error(self, exc: ApiClientError) -> ProviderRequestError:
        status, text = exc.status_code, exc.text
        if isinstance(text, dict) and text.get("status") == "error":
            name = str(text.get("name") or "")
            permanent = name_is_permanent(name, status)
            return self.error(
                str(text.get("message") or name),
                status=status,
                code=name,
                permanent=permanent,
                retry_after=None if permanent else self._last.retry_after(),
            )
        return self._status_error(status, str(text)[:500])


def _recipient(email: str, name: str) -> dict[str, str]:
    entry = {"email": email, "type": "to"}
    if name:
        entry["name"] = name
    return entry
