"""SendGrid through its official SDK (`sendgrid` 6.x on `python_http_client`, i.e. urllib).

SDK quirks kept here:
- `SendGridAPIClient.send()` takes no timeout: mail goes through `client.mail.send.post(...,
  timeout=)`, like every other call.
- Request headers live in one dict shared by every chained client and persist between calls,
  and the host is fixed at construction: each request gets a freshly built SDK client.
  `set_sendgrid_data_residency` would overwrite the host, so it is never called; the EU host
  comes from the account's `api_base_url`.
- HTTP errors arrive as `python_http_client.exceptions.HTTPError` subclasses; transport errors
  as raw urllib / socket / http.client exceptions. Both leave as `ProviderRequestError`.
- `python_http_client` logs request headers, Authorization included, at DEBUG: a filter on its
  logger redacts the token.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import python_http_client
import sendgrid

from providers.clients.base import REDACTED, ProviderClient, plain_json
from providers.clients.capability_types import CampaignSending, TemplateLanguage
from providers.clients.no_redirects import redirect_description
from providers.clients.sender_auth_types import SENDGRID_PLAN, DomainAuthentication
from providers.clients.sender_domains import sendgrid_domain
from providers.clients.sendgrid_suppressions import SendGridSuppressions
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
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
from providers.exceptions import ProviderRequestError, retry_after_seconds

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAIL_SEND_SCOPE = "mail.send"
# The Email Activity Feed answers at most this many messages and has no paging.
ACTIVITY_LIMIT = 1000
# Domain authentications per page (limit/offset paging).
DOMAINS_PAGE = 50
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+")


class _RedactBearer(logging.Filter):
    """Blank the API key out of python_http_client's DEBUG lines (it logs every header)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = record.getMessage(), None
        if isinstance(record.msg, str) and "Bearer" in record.msg:
            record.msg = _BEARER.sub(rf"\g<1>{REDACTED}", record.msg)
        return True


_sdk_logger = logging.getLogger("python_http_client.client")
if not any(isinstance(f, _RedactBearer) for f in _sdk_logger.filters):
    _sdk_logger.addFilter(_RedactBearer())


def _address(address: Address, *, recipient: bool = False) -> dict[str, str]:
    value = {"email": address.email}
    if address.name:
        name = address.name
        # SendGrid refuses an unquoted , or ; in a recipient name; quoting is its documented way
        # round (anymail does the same).
        if recipient and re.search(r"[,;]", name) and not (name[:1] == name[-1:] == '"'):
            name = '"{}"'.format(name.replace("\\", "\\\\").replace('"', '\\"'))
        value["name"] = name
    return value


def _personalization(recipient: BatchRecipient) -> dict[str, Any]:
    """One recipient of a batch, with its own headers (SendGrid takes `headers` per
    personalization: each recipient's List-Unsubscribe link)."""
    personalization: dict[str, Any] = {
        "to": [_address(recipient.to, recipient=True)],
        "dynamic_template_data": plain_json(recipient.data),
        "custom_args": {CORRELATION_KEY: recipient.correlation_id},
    }
    if recipient.headers:
        personalization["headers"] = dict(recipient.headers)
    return personalization


def batch_chunks(recipients: Sequence[BatchRecipient]) -> list[list[BatchRecipient]]:
    """Split so each request has at most 1,000 personalizations (one recipient each) and never
    the same address twice (SendGrid rejects a request that repeats an address)."""
    size = min(MAX_PERSONALIZATIONS, MAX_RECIPIENTS)
    chunks: list[list[BatchRecipient]] = []
    seen: list[set[str]] = []
    first_open = 0  # chunks fill in order: every one before this is full
    for recipient in recipients:
        email = recipient.to.email.lower()
        for index in range(first_open, len(chunks)):
            if len(chunks[index]) < size and email not in seen[index]:
                chunks[index].append(recipient)
                seen[index].add(email)
                break
        else:
            chunks.append([recipient])
            seen.append({email})
        while first_open < len(chunks) and len(chunks[first_open]) >= size:
            first_open += 1
    return chunks


class SendGridClient(SendGridSuppressions, ProviderClient):
    kind = "sendgrid"
    default_base_url = "https://api.sendgrid.com"
    campaigns = CampaignSending.BATCHES
    # SendGrid publishes no sending rate limit and answers 429 when pushed: 2 keeps a 2-core
    # host busy without that.
    campaign_runners = 2
    # It renders per-recipient data only in dynamic templates.
    batch_needs_stored_template = True
    campaign_needs_unsubscribe_group = True
    template_language = TemplateLanguage.HANDLEBARS
    template_purposes = frozenset({"transactional", "promotional"})

    # --- the interface -----------------------------------------------------------------------
    def send(self, email: OutgoingEmail) -> SendResult:
        personalization: dict[str, Any] = {
            "to": [_address(email.to, recipient=True)],
            "custom_args": {CORRELATION_KEY: email.correlation_id},
        }
        payload: dict[str, Any] = {
            "personalizations": [personalization],
            **self._envelope(email.sender, email.reply_to, email.categories),
        }
        if email.remote_template_id:
            # The dynamic template renders subject and content from the data.
            payload["template_id"] = email.remote_template_id
            personalization["dynamic_template_data"] = plain_json(email.template_data)
        else:
            payload["subject"] = email.subject
            payload["content"] = [
                {"type": kind, "value": value}
                for kind, value in (("text/plain", email.text), ("text/html", email.html))
                if value
            ]
        if email.headers:
            payload["headers"] = dict(email.headers)
        message_id = self._mail_send(payload)
        return self._result(message_id, [email.to.email])

    def send_batch(self, batch: BatchEmail) -> list[SendResult]:
        """One request per chunk of recipients, rendered by the dynamic template.

        If a later chunk fails, the error carries the chunks already sent as `partial_results`:
        those were accepted and must not be sent again."""
        if not batch.remote_template_id:
            raise self.unsupported(
                "batch sending without a dynamic template: SendGrid renders per-recipient data "
                "only in dynamic templates, so publish the template to this account first"
            )
        envelope = self._envelope(batch.sender, batch.reply_to, batch.categories)
        results: list[SendResult] = []
        for chunk in batch_chunks(batch.recipients):
            payload: dict[str, Any] = {
                "personalizations": [_personalization(r) for r in chunk],
                **envelope,
                "template_id": batch.remote_template_id,
            }
            if batch.custom_args:
                # Message level: SendGrid merges it into every personalization's custom_args.
                payload["custom_args"] = dict(batch.custom_args)
            if batch.unsubscribe_group_id is not None:
                payload["asm"] = {"group_id": batch.unsubscribe_group_id}
            try:
                message_id = self._mail_send(payload)
            except ProviderRequestError as exc:
                exc.partial_results = list(results)
                raise
            results.append(self._result(message_id, [r.to.email for r in chunk]))
        return results

    def accepted_recipients(self, key: str, value: str, *, at_most: int | None = None) -> set[str]:
        """Who SendGrid took mail for with custom arg `key` = `value`, from the Email Activity
        Feed (a paid add-on: without it SendGrid answers 403/404)."""
        query = _activity_query(key, value)
        answer = self._call(
            lambda api: api.messages.get(
                query_params={"query": query, "limit": ACTIVITY_LIMIT}, timeout=self.timeout
            )
        )
        found = _json_object(answer.body).get("messages")
        if not isinstance(found, list):
            raise self.error(
                f"unexpected answer to the activity search: {str(answer.body)[:200]}",
                permanent=False,
            )
        if len(found) >= ACTIVITY_LIMIT and (at_most is None or at_most > ACTIVITY_LIMIT):
            # The feed cannot page: a full answer may hide more, and a partial set would
            # make a resume send twice.
            raise self.error(
                f"the activity lookup for {key}={value} is incomplete: SendGrid returned its "
                f"maximum of {ACTIVITY_LIMIT} messages",
                permanent=True,  # asking again gets the same full page
            )
        return {
            str(m["to_email"]).lower() for m in found if isinstance(m, dict) and m.get("to_email")
        }

    def check_credentials(self) -> CredentialCheck:
        def probe() -> str:
            answer = self._call(lambda api: api.scopes.get(timeout=self.timeout))
            scopes = _json_object(answer.body).get("scopes") or []
            if MAIL_SEND_SCOPE not in scopes:
                raise self.error(
                    f"the API key lacks the {MAIL_SEND_SCOPE} scope ({len(scopes)} scopes granted)",
                    permanent=True,
                )
            return f"{MAIL_SEND_SCOPE} granted ({len(scopes)} scopes)"

        return self.timed_check(probe)

    def push_template(
        self, template: TemplateContent, *, remote_id: str = ""
    ) -> TemplatePushResult:
        """A new active version of the dynamic template (created first if `remote_id` is empty).
        Versions are never edited in place: every push is a version, like templates_lib's. A
        `remote_id` SendGrid no longer has is a permanent 404 (`fetch_template` says None):
        push again without it to create a new template."""
        version_name = " ".join(p for p in (template.name, template.version_label) if p)
        body = {
            "name": version_name[:100],
            "subject": template.subject,
            "html_content": template.html,
            "plain_content": template.text,
            "generate_plain_content": not template.text,
            "editor": "code",
            "active": 1,
        }
        if remote_id:
            return self._add_version(remote_id, body)
        created = self._call(
            lambda api: api.templates.post(
                request_body={"name": template.name[:100], "generation": "dynamic"},
                timeout=self.timeout,
            )
        )
        new_id = _json_object(created.body).get("id", "")
        if not new_id:
            raise self.error("SendGrid created a template but returned no id", permanent=False)
        return self._add_version(new_id, body)

    def _add_version(self, remote_id: str, body: dict[str, Any]) -> TemplatePushResult:
        added = self._call(
            lambda api: api.templates._(remote_id).versions.post(
                request_body=body, timeout=self.timeout
            )
        )
        version_id = _json_object(added.body).get("id", "")
        return TemplatePushResult(remote_id=remote_id, remote_version_id=version_id)

    def fetch_template(self, remote_id: str) -> RemoteTemplate | None:
        """The dynamic template's ACTIVE version, what SendGrid sends (None: no such template).

        `text` is "" while SendGrid generates the plain text from the HTML
        (`generate_plain_content`, what a push with an empty text asks for): SendGrid then
        rewrites it on every save, so only the HTML says what was edited. A template without
        an active version comes back empty: nothing of what was pushed is sent."""
        template = self._get_or_none(
            lambda api: api.templates._(remote_id).get(timeout=self.timeout)
        )
        if template is None:
            return None
        active = next(
            (
                v
                for v in template.get("versions") or []
                if isinstance(v, dict) and v.get("active") == 1
            ),
            None,
        )
        nothing_active = RemoteTemplate(
            remote_id=remote_id, edited_at=_sendgrid_time(template.get("updated_at"))
        )
        if active is None or not active.get("id"):
            return nothing_active
        # The template's version list may be the lean kind (no content): read the version itself.
        version = self._get_or_none(
            lambda api: (
                api.templates._(remote_id).versions._(active["id"]).get(timeout=self.timeout)
            )
        )
        if version is None:  # deleted between the two reads
            return nothing_active
        generated = version.get("generate_plain_content") is True
        return RemoteTemplate(
            remote_id=remote_id,
            subject=str(version.get("subject") or ""),
            html=str(version.get("html_content") or ""),
            text="" if generated else str(version.get("plain_content") or ""),
            edited_at=_sendgrid_time(version.get("updated_at")),
        )

    # --- sender authentication: the domain authentication API ---------------------------------
    sender_auth = SENDGRID_PLAN

    def domain_authentication(self, domain: str) -> DomainAuthentication:
        """SendGrid's authentication of `domain` (`GET /v3/whitelabel/domains?domain=`, paged by
        limit/offset): its `valid` flag and the DNS records it asks for, each with its verdict."""
        domain = domain.lower()
        offset = 0
        while True:
            params = {"domain": domain, "limit": DOMAINS_PAGE, "offset": offset}
            answer = self._call(
                lambda api, params=params: api.whitelabel.domains.get(
                    query_params=params, timeout=self.timeout
                )
            )
            page = _json(answer.body)
            if not isinstance(page, list):
                raise self.error(
                    f"unexpected answer to whitelabel/domains: {str(answer.body)[:200]}",
                    permanent=False,
                )
            for entry in page:
                if isinstance(entry, dict) and str(entry.get("domain", "")).lower() == domain:
                    return sendgrid_domain(domain, entry)
            if len(page) < DOMAINS_PAGE:
                return DomainAuthentication(
                    domain=domain,
                    found=False,
                    detail=f"{domain} is not authenticated in SendGrid (Settings, Sender "
                    "Authentication, Authenticate Your Domain)",
                )
            offset += DOMAINS_PAGE

    # --- helpers -----------------------------------------------------------------------------
    def _envelope(
        self, sender: Address | None, reply_to: Address | None, categories: Sequence[str]
    ) -> dict[str, Any]:
        """What every mail/send request carries besides recipients and content."""
        envelope: dict[str, Any] = {"from": _address(self.sender(sender))}
        reply_to = reply_to or (Address(self.account.reply_to) if self.account.reply_to else None)
        if reply_to:
            envelope["reply_to"] = _address(reply_to)
        if categories:
            envelope["categories"] = list(categories)
        if self.account.sandbox_mode:
            envelope["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return envelope

    def _mail_send(self, payload: dict[str, Any]) -> str:
        response = self._call(
            lambda api: api.mail.send.post(request_body=payload, timeout=self.timeout)
        )
        return response.headers.get("X-Message-Id", "") or ""

    def _result(self, message_id: str, emails: Sequence[str]) -> SendResult:
        return SendResult(
            provider_message_id=message_id,
            recipients=tuple(
                RecipientResult(email=e, status="accepted", provider_message_id=message_id)
                for e in emails
            ),
            sandboxed=self.account.sandbox_mode,
        )

    def _api(self):
        """A fresh SDK client: its header dict is shared and sticky, its host fixed at birth."""
        return sendgrid.SendGridAPIClient(api_key=self.secret("api_key"), host=self.base_url).client

    def _get_or_none(self, request: Callable[[Any], Any]) -> dict[str, Any] | None:
        """A read's JSON object, or None when SendGrid answers 404."""
        try:
            return _json_object(self._call(request).body)
        except ProviderRequestError as exc:
            if exc.status == 404:
                return None
            raise

    def _call(self, request: Callable[[Any], Any]):
        """Run one SDK request; every failure leaves as a classified ProviderRequestError."""
        api = self._api()
        try:
            return request(api)
        except python_http_client.exceptions.HTTPError as exc:
            raise self._http_error(exc) from None
        except ValueError:
            # urllib refusing the URL, or http.client a header: its words (and so the error's
            # context) would quote the Authorization header, so it is raised after this block.
            pass
        except urllib.error.URLError as exc:
            # Raised while connecting or writing the request: SendGrid never got it.
            raise self.error(
                f"cannot reach SendGrid at {self.base_url}: {exc.reason}", permanent=False
            ) from None
        # From here on the request went out: SendGrid may have accepted it, so a retry may
        # duplicate (ambiguous).
        except TimeoutError:
            raise self.error(
                f"no answer from SendGrid within {self.timeout:g}s", permanent=False, ambiguous=True
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self.error(
                f"connection to SendGrid lost while waiting for its answer ({exc!r})",
                permanent=False,
                ambiguous=True,
            ) from None
        raise self.error(  # only a request refused before sending (ValueError) gets here
            f"SendGrid request refused before sending: the base URL {self.base_url!r} or "
            "the API key (e.g. a line break in it) is unusable",
            permanent=True,
        )

    def _http_error(self, exc: python_http_client.exceptions.HTTPError) -> ProviderRequestError:
        status = getattr(exc, "status_code", None)
        headers = dict(exc.headers.items()) if getattr(exc, "headers", None) else {}
        if status is not None and 300 <= status < 400:  # refused (providers/clients/no_redirects)
            location = next((v for k, v in headers.items() if k.lower() == "location"), None)
            return self.error(redirect_description(status, location), status=status, permanent=True)
        return self.error(
            _provider_message(exc.body) or f"{exc.reason}",
            status=status,
            retry_after=retry_after_seconds(headers, status=status),
        )


def _activity_query(key: str, value: str) -> str:
    """The Email Activity query language's custom-argument filter (the SDK URL-encodes it)."""
    if "'" in key or "\\" in key:
        raise ValueError(f"a custom argument name cannot contain ' or \\: {key!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f"unique_args['{key}']=\"{escaped}\""


def _json(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _json_object(body: bytes | str | None) -> dict[str, Any]:
    payload = _json(body)
    return payload if isinstance(payload, dict) else {}


def _sendgrid_time(value: Any) -> datetime | None:
    """SendGrid's template timestamps: "YYYY-MM-DD HH:MM:SS" in UTC."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _provider_message(body: bytes | str | None) -> str:
    """SendGrid's own words: every `errors[].message`, with its field when there is one."""
    payload = _json(body)
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        parts = []
        for item in payload["errors"]:
            if isinstance(item, dict) and item.get("message"):
                field = item.get("field")
                parts.append(f"{field}: {item['message']}" if field else str(item["message"]))
        if parts:
            return "; ".join(parts)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return (body or "").strip()[:500]
