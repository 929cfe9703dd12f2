"""Mailchimp Marketing (audiences, segments, campaigns) through the official SDK.

Marketing cannot send one transactional email (that is Mailchimp Transactional, a separate API),
so `send` is unsupported; bulk email goes out as audience sync + static segment + campaign.

SDK quirks kept in here:
- the SDK rewrites the substring "server" anywhere in the request URL to the key's data centre;
  we set the host ourselves (the account's base URL, or the data centre's) and switch that
  rewrite off, so neither a host nor a path (an audience id like "observers") is mangled;
- problem+json errors arrive as `ApiClientError.text` *str* (the SDK only parses
  `application/json`), and carry no headers (we keep the last response per thread);
- a 204 or any empty body comes back as a raw `requests.Response`, even for an error status;
- connection errors come wrapped in `ApiClientError` with `status_code=None`.

Mailchimp allows 10 simultaneous connections per key. Every call here waits for one of 10 slots
per key; the slots are per *process* (a second worker process has its own 10), so a 429 can
still happen and is then transient.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import mailchimp_marketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from providers.clients.base import ProviderClient, checked_base_url, chunks
from providers.clients.capability_types import (
    CampaignSending,
    Capability,
    Reporting,
    TemplateLanguage,
)
from providers.clients.mailchimp_marketing_types import (
    AudienceMember,
    MemberBatchResult,
    MemberError,
    MemberRecord,
    MergeField,
    SegmentChange,
    batch_entry,
    subscriber_hash,
)
from providers.clients.mailchimp_reports import MailchimpCampaignReports
from providers.clients.mailchimp_suppressions import MailchimpAudienceSuppressions, iso_time
from providers.clients.requests_transport import (
    LastResponse,
    TransportFailure,
    describe_transport_failure,
)
from providers.clients.sender_auth_types import MAILCHIMP_MARKETING_PLAN
from providers.clients.types import (
    CredentialCheck,
    RemoteTemplate,
    TemplateContent,
    TemplatePushResult,
)
from providers.exceptions import (
    ProviderConfigurationError,
    ProviderRequestError,
    is_permanent_status,
)

MAX_CONNECTIONS_PER_KEY = 10
MEMBERS_PER_CALL = 500
DATA_CENTRE_RE = re.compile(r"^[^-]+-([a-z]+[0-9]+)$")

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def connection_slots(api_key: str) -> threading.BoundedSemaphore:
    """The process-wide semaphore of one API key (keyed by a digest, not the key itself)."""
    ident = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _slots_lock:
        if ident not in _slots:
            _slots[ident] = threading.BoundedSemaphore(MAX_CONNECTIONS_PER_KEY)
        return _slots[ident]


class MailchimpMarketingClient(
    MailchimpAudienceSuppressions, MailchimpCampaignReports, ProviderClient
):
    kind = "mailchimp_marketing"
    reporting = Reporting.NOTHING
    instead = {
        Capability.SEND: "use a Mailchimp Transactional account",
        Capability.SEND_BATCH: "Mailchimp sends a campaign, and its tests, itself: sync the "
        "audience and send a campaign instead",
    }
    campaigns = CampaignSending.PROVIDER_CAMPAIGN
    template_language = TemplateLanguage.MERGE_TAGS
    template_purposes = frozenset({"promotional"})  # its templates serve campaigns only
    syncs_audience = True
    # Its sending is Mailchimp's: only the From domain's DMARC is ours to check.
    sender_auth = MAILCHIMP_MARKETING_PLAN

    def __init__(self, account, *, timeout: float | None = None):
        super().__init__(account, timeout=timeout)
        self._sdk: mailchimp_marketing.Client | None = None
        self._last = LastResponse()

    # --- the interface -----------------------------------------------------------------------
    # No `send` nor `send_batch`: the Marketing API sends campaigns to an audience only.
    def check_credentials(self) -> CredentialCheck:
        return self.timed_check(lambda: str(self._call(self._client().ping.get)["health_status"]))

    def push_template(
        self, template: TemplateContent, *, remote_id: str = ""
    ) -> TemplatePushResult:
        """Create (or update) a user template; its remote id is Mailchimp's integer id. A
        `remote_id` Mailchimp no longer has is a 404 (`fetch_template` says None)."""
        body = {"name": template.name, "html": template.html}
        templates = self._client().templates
        if remote_id:
            answer = self._call(templates.update_template, remote_id, body)
        else:
            answer = self._call(templates.create, body)
        return TemplatePushResult(
            remote_id=str(answer["id"]), remote_version_id=str(answer.get("date_edited") or "")
        )

    def fetch_template(self, remote_id: str) -> RemoteTemplate | None:
        """What Mailchimp says of the template: its `date_edited` only. The API never returns a
        template's html, so `content_available` is False and an edit shows as a newer
        `edited_at` than the push's (`remote_version_id`). None: no such template."""
        try:
            answer = self._call(self._client().templates.get_template, remote_id)
        except ProviderRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return RemoteTemplate(
            remote_id=str(answer.get("id") or remote_id),
            edited_at=iso_time(answer.get("date_edited")),
            content_available=False,
        )

    # --- audience ----------------------------------------------------------------------------
    def member_upsert(
        self,
        *,
        email: str,
        merge_fields: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        status_if_new: str = "subscribed",
        status: str | None = None,
        audience_id: str = "",
    ) -> MemberRecord:
        """Create or update one member (PUT), then add its tags (tags endpoint)."""
        audience = self._audience(audience_id)
        member_hash = subscriber_hash(email)
        body: dict[str, Any] = {"email_address": email, "status_if_new": status_if_new}
        if status:
            body["status"] = status
        if merge_fields:
            body["merge_fields"] = dict(merge_fields)
        lists = self._client().lists
        answer = self._call(lists.set_list_member, audience, member_hash, body)
        if tags:
            tag_body = {
                "tags": [{"name": t, "status": "active"} for t in tags],
                "is_syncing": False,
            }
            self._call(lists.update_list_member_tags, audience, member_hash, tag_body)
        return MemberRecord(
            subscriber_hash=str(answer.get("id") or member_hash),
            email=str(answer.get("email_address") or email),
            status=str(answer.get("status") or ""),
        )

    def member_delete_permanent(self, *, subscriber_hash: str, audience_id: str = "") -> bool:
        """Erase a member for good (`actions/delete-permanent`); Mailchimp then refuses to
        re-import the address. False: the audience had no such member (404), nothing to do."""
        lists = self._client().lists
        try:
            self._call(
                lists.delete_list_member_permanent, self._audience(audience_id), subscriber_hash
            )
        except ProviderRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def members_batch(
        self,
        *,
        members: Sequence[AudienceMember],
        update_existing: bool = True,
        audience_id: str = "",
    ) -> MemberBatchResult:
        """Batch subscribe/update, 500 members a call; counts and errors of all calls."""
        audience = self._audience(audience_id)
        created = updated = 0
        errors: list[MemberError] = []
        for chunk in chunks(members, MEMBERS_PER_CALL):
            body = {"members": [batch_entry(m) for m in chunk], "update_existing": update_existing}
            answer = self._call(self._client().lists.batch_list_members, audience, body)
            created += int(answer.get("total_created") or 0)
            updated += int(answer.get("total_updated") or 0)
            errors += [
                MemberError(
                    email=str(e.get("email_address") or ""),
                    code=str(e.get("error_code") or ""),
                    message=str(e.get("error") or ""),
                )
                for e in answer.get("errors") or []
            ]
        return MemberBatchResult(created=created, updated=updated, errors=tuple(errors))

    def merge_fields_ensure(
        self, *, fields: Sequence[MergeField], audience_id: str = ""
    ) -> dict[str, int]:
        """Create the merge fields the audience lacks; returns every tag's merge id."""
        audience = self._audience(audience_id)
        lists = self._client().lists
        answer = self._call(lists.get_list_merge_fields, audience, count=1000)
        existing = {f["tag"]: int(f["merge_id"]) for f in answer.get("merge_fields") or []}
        for spec in fields:
            if spec.tag not in existing:
                body = {"tag": spec.tag, "name": spec.name, "type": spec.type}
                created = self._call(lists.add_list_merge_field, audience, body)
                existing[spec.tag] = int(created["merge_id"])
        return existing

    def segment_create(self, *, name: str, audience_id: str = "") -> int:
        """A new, empty static segment; fill it with `segment_members_update`."""
        body = {"name": name, "static_segment": []}
        answer = self._call(self._client().lists.create_segment, self._audience(audience_id), body)
        return int(answer["id"])

    def segment_members_update(
        self,
        *,
        segment_id: int,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        audience_id: str = "",
    ) -> SegmentChange:
        """Add and remove static segment members, at most 500 of each per call."""
        audience = self._audience(audience_id)
        adds, removes = list(chunks(add, MEMBERS_PER_CALL)), list(chunks(remove, MEMBERS_PER_CALL))
        added = removed = 0
        not_on_list: list[str] = []
        for index in range(max(len(adds), len(removes))):
            body = {
                "members_to_add": list(adds[index]) if index < len(adds) else [],
                "members_to_remove": list(removes[index]) if index < len(removes) else [],
            }
            batch = self._client().lists.batch_segment_members
            answer = self._call(batch, body, audience, segment_id)
            added += int(answer.get("total_added") or 0)
            removed += int(answer.get("total_removed") or 0)
            for error in answer.get("errors") or []:
                not_on_list += [str(e) for e in error.get("email_addresses") or []]
        return SegmentChange(added=added, removed=removed, not_on_list=tuple(not_on_list))

    # --- campaigns ---------------------------------------------------------------------------
    def campaign_create(
        self,
        *,
        subject: str,
        segment_id: int | None = None,
        title: str = "",
        preview_text: str = "",
        audience_id: str = "",
    ) -> str:
        """A regular campaign to the audience (or one static segment of it); returns its id.
        From name and reply-to come from the account (Mailchimp needs reply-to to send)."""
        recipients: dict[str, Any] = {"list_id": self._audience(audience_id)}
        if segment_id is not None:
            recipients["segment_opts"] = {"saved_segment_id": segment_id}
        settings = {
            "subject_line": subject,
            "title": title or subject,
            "from_name": self.account.from_name or self.account.from_email,
            "reply_to": self.account.reply_to or self.account.from_email,
        }
        if preview_text:
            settings["preview_text"] = preview_text
        body = {"type": "regular", "recipients": recipients, "settings": settings}
        return str(self._call(self._client().campaigns.create, body)["id"])

    def campaign_set_content(self, *, campaign_id: str, html: str, text: str) -> None:
        body = {"html": html, "plain_text": text}
        self._call(self._client().campaigns.set_content, campaign_id, body)

    def campaign_send(self, *, campaign_id: str) -> None:
        self._call(self._client().campaigns.send, campaign_id)

    def campaign_schedule(self, *, campaign_id: str, send_at: datetime) -> None:
        """Schedule for `send_at` (timezone-aware; Mailchimp wants a quarter-hour)."""
        if send_at.tzinfo is None:
            raise ValueError("send_at must be timezone-aware")
        body = {"schedule_time": send_at.astimezone(UTC).isoformat()}
        self._call(self._client().campaigns.schedule, campaign_id, body)

    def campaign_status(self, campaign_id: str) -> str:
        """Mailchimp's status of the campaign: save, paused, schedule, sending, sent, ...
        (how a resumed send tells whether a campaign already went out)."""
        answer = self._call(self._client().campaigns.get, campaign_id, fields=["status"])
        return str(answer.get("status") or "")

    # --- calling the SDK ---------------------------------------------------------------------
    def _audience(self, audience_id: str) -> str:
        audience = audience_id or self.account.audience_id
        if not audience:
            raise ProviderConfigurationError(
                "no audience (list) id is set", provider=self.kind, account=self.account.name
            )
        return audience

    def _client(self) -> mailchimp_marketing.Client:
        if self._sdk is None:
            key = self.secret("api_key")
            sdk = mailchimp_marketing.Client()
            sdk.set_config({"api_key": key, "timeout": self.timeout})
            if self.account.api_base_url:
                host = f"{self.base_url}/3.0"
            else:
                match = DATA_CENTRE_RE.match(key)
                if not match:
                    raise ProviderConfigurationError(
                        "the API key has no data centre suffix (like ...-us6)",
                        provider=self.kind,
                        account=self.account.name,
                    )
                host = (
                    checked_base_url(self.account, f"https://{match.group(1)}.api.mailchimp.com")
                    + "/3.0"
                )
            sdk.api_client.host = host
            sdk.api_client.server = ""  # no url.replace("server", ...) on our URLs
            self._last.watch(sdk.api_client)
            self._sdk = sdk
        return self._sdk

    def _call(self, method: Callable, *args, **kwargs) -> Any:
        """One SDK call within the key's connection slots; failures become ProviderErrors."""
        slots = connection_slots(self.secret("api_key"))
        if not slots.acquire(timeout=self.timeout):
            raise self.error(
                f"all {MAX_CONNECTIONS_PER_KEY} connections of this key stayed busy for "
                f"{self.timeout:g} s in this process",
                permanent=False,
            )
        try:
            self._last.forget()
            answer = method(*args, **kwargs)
        except ApiClientError as exc:
            raise self._api_error(exc) from None
        finally:
            slots.release()
        if isinstance(answer, requests.Response):  # 204 or any empty body, whatever the status
            if not answer.ok:
                raise self._empty_error(answer.status_code)
            return {}
        if not isinstance(answer, dict):
            raise self.error(f"unexpected non-JSON answer: {str(answer)[:200]}", permanent=False)
        return answer

    def _empty_error(self, status: int) -> ProviderRequestError:
        # Under extreme load Mailchimp answers 429 or 403 with no body: both mean "slow down".
        permanent = is_permanent_status(status) and status != 403
        return self.error(
            "error status with an empty body",
            status=status,
            permanent=permanent,
            retry_after=None if permanent else self._last.retry_after(),
        )

    def _api_error(self, exc: ApiClientError) -> ProviderRequestError:
        status, text = exc.status_code, exc.text
        if status is None:  # the SDK wraps transport failures, cause in `.text`
            if isinstance(text, requests.RequestException):
                failure = describe_transport_failure(text)
            else:
                failure = TransportFailure(f"{type(text).__name__}: {text}")
            return self.error(
                failure.description, permanent=failure.permanent, ambiguous=failure.ambiguous
            )
        problem = text if isinstance(text, dict) else _json_or_none(text)
        code = ""
        if isinstance(problem, dict):
            code = str(problem.get("title") or "")
            message = f"{code}: {problem.get('detail') or ''}"
            fields = [
                f"{e.get('field')}: {e.get('message')}"
                for e in problem.get("errors") or []
                if isinstance(e, dict)
            ]
            if fields:
                message += f" ({'; '.join(fields)})"
        else:
            message = str(text)[:500]
        permanent = is_permanent_status(status)
        return self.error(
            message,
            status=status,
            code=code,
            permanent=permanent,
            retry_after=None if permanent else self._last.retry_after(),
        )


def _json_or_none(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
