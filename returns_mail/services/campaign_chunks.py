"""Sending a campaign's chunks in batches (SendGrid, Mailchimp Transactional), exactly once.

A runner task claims the campaign's next due chunk (a conditional UPDATE, only while the
campaign is sending), marks it handed over, makes ONE provider request for its pending
recipients (SendGrid: up to 1,000 personalizations; Mandrill: `merge_vars`), and records the
outcome on the recipient rows. Runners per campaign are few (the kind's `campaign_runners`):
that is the throttle, with Retry-After honoured on 429s.

Exactly once: a chunk whose call may have gone through (a read timeout, or a worker killed
during the call) is `unconfirmed`. Before anything is resent, the provider's message activity
is asked which of the chunk's recipients it took, by the chunk's marker (a custom argument on
every recipient); those are recorded as sent and only the others are sent again. A provider
that cannot say holds the chunk for an admin.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from config.queue import enqueue_on_commit
from config.work_rows import Backoff, claim, due
from providers.clients import (
    CampaignSending,
    batch_needs_stored_template,
    campaign_runners,
    campaign_sending,
    client_for,
)
from providers.clients.types import Address, BatchEmail, BatchRecipient, SendResult
from providers.exceptions import ProviderConfigurationError, ProviderError
from providers.models import Purpose
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
    RecipientStatus,
)
from returns_mail.services.lifecycle import (
    recipients_failed,
    recipients_refused,
    recipients_sent,
    recipients_withdrawn,
)
from returns_mail.services.suppression import suppressed_emails
from returns_mail.services.unsubscribe_links import unsubscribe_links
from templates_lib.models import SyncStatus, TemplateSync, TemplateVersion
from templates_lib.rendering import provider_content

logger = logging.getLogger(__name__)

CHUNK_KEY = "rm_chunk"
CAMPAIGN_KEY = "rm_campaign"
MAX_CHUNK_ATTEMPTS = 12
# As a message's: 1-2 s before the first retry, doubling to at most 5 minutes.
BACKOFF = Backoff(base=2.0, cap=300.0)
# Whose account problems stop the whole campaign (every chunk would fail the same way).
ACCOUNT_STATUSES = (401, 403)
LIVE = (ChunkStatus.PENDING, ChunkStatus.SENDING, ChunkStatus.UNCONFIRMED, ChunkStatus.HELD)


def runners_start(campaign: Campaign) -> None:
    """Queue the campaign's runners after the current commit (one, for a provider that sends
    its own campaign)."""
    if campaign_sending(campaign.account) == CampaignSending.PROVIDER_CAMPAIGN:
        enqueue_on_commit("returns_mail.tasks.campaign_mailchimp_run", campaign.pk)
        return
    for _ in range(campaign_runners(campaign.account)):
        enqueue_on_commit("returns_mail.tasks.campaign_run", campaign.pk)


def runner_budget() -> float:
    """How long one runner task works before handing over to a successor: well inside the
    task timeout, so django-q2 never kills a runner in the middle of a provider call."""
    return max(1.0, settings.Q_TIMEOUT / 2)


def campaign_run(*, campaign_id: int, budget: float | None = None) -> int:
    """Send due chunks until none is left or the budget is spent; returns chunks handled."""
    deadline = time.monotonic() + (runner_budget() if budget is None else budget)
    handled = 0
    while time.monotonic() < deadline:
        chunk = chunk_claim_next(campaign_id)
        if chunk is not None:
            chunk_send(chunk)
            handled += 1
            continue
        wait = _seconds_to_next_due(campaign_id)
        if wait is None:  # nothing pending: the others are in flight or it is all done
            campaign_finish_if_done(campaign_id)
            return handled
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
    if Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).exists():
        with transaction.atomic():  # a successor keeps the number of runners steady
            enqueue_on_commit("returns_mail.tasks.campaign_run", campaign_id)
    return handled


def _seconds_to_next_due(campaign_id: int) -> float | None:
    pending = CampaignChunk.objects.filter(
        campaign_id=campaign_id,
        status=ChunkStatus.PENDING,
        campaign__status=CampaignStatus.SENDING,
    )
    due = pending.order_by(F("next_attempt_at").asc(nulls_first=True)).first()
    if due is None:
        return None
    if due.next_attempt_at is None:
        return 0.0
    return max(0.0, (due.next_attempt_at - timezone.now()).total_seconds())


def chunk_claim_next(campaign_id: int) -> CampaignChunk | None:
    """Take the next due pending chunk of a sending campaign (conditional UPDATE)."""
    now = timezone.now()
    pending = CampaignChunk.objects.filter(campaign_id=campaign_id, status=ChunkStatus.PENDING)
    due_ids = pending.filter(due(now)).order_by("number").values_list("pk", flat=True)[:8]
    for chunk_id in list(due_ids):
        # The chunk's own conditions stay in the UPDATE's WHERE, so PostgreSQL re-checks them
        # on the row a concurrent claim just changed. A join (campaign__status=...) would turn
        # this into "id IN (subquery)", which is not re-checked: two workers could both win.
        claimable = CampaignChunk.objects.filter(
            _campaign_sending(),  # a pause or cancel stops new claims
            pk=chunk_id,
            status=ChunkStatus.PENDING,
        )
        if claim(claimable, now=now, status=ChunkStatus.SENDING, handed_over_at=None):
            return CampaignChunk.objects.select_related(
                "campaign__account", "campaign__template_version__layout"
            ).get(pk=chunk_id)
    return None


def attempt_marker(chunk: CampaignChunk) -> str:
    """What tags every recipient of this attempt at the chunk: one attempt reaches at most
    `size` recipients, so a lookup by it is complete within the providers' 1,000 answers (and
    recipients settled by earlier attempts never come back into question)."""
    return f"{chunk.marker}.{chunk.attempts}"


def _campaign_sending() -> Exists:
    return Exists(
        Campaign.objects.filter(pk=OuterRef("campaign_id"), status=CampaignStatus.SENDING)
    )


def _pending(chunk: CampaignChunk):
    return CampaignRecipient.objects.filter(
        campaign_id=chunk.campaign_id, chunk_number=chunk.number, status=RecipientStatus.PENDING
    )


def chunk_send(chunk: CampaignChunk) -> str:
    """One provider request for the chunk's pending recipients; returns the chunk's status."""
    campaign = chunk.campaign
    if not Purpose.serves(campaign.account.purpose, Purpose.PROMOTIONAL):
        return _stop_campaign(
            chunk, f"the account {campaign.account} no longer sends promotional mail"
        )
    recipients = _not_suppressed(
        chunk, list(_pending(chunk).values("email", "name", "data", "correlation_id"))
    )
    if not recipients:  # all settled by a reconciliation (or suppressed since)
        return _chunk_finish(chunk, ChunkStatus.SENT)
    try:
        batch = campaign_batch(
            campaign, campaign.template_version, chunk.locale, attempt_marker(chunk), recipients
        )
    except ProviderConfigurationError as exc:
        return _stop_campaign(chunk, str(exc))
    now = timezone.now()
    CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.SENDING).update(handed_over_at=now)
    try:
        results = client_for(campaign.account).send_batch(batch)  # outside any transaction
    except ProviderConfigurationError as exc:
        return _stop_campaign(chunk, str(exc))
    except ProviderError as exc:
        return _chunk_failed(chunk, exc)
    return _chunk_sent(chunk, results)


def _batch_recipient(recipient: dict, brand: dict, locale: str) -> BatchRecipient:
    """One recipient of a campaign (promotional mail): its data with its own unsubscribe and
    preference links, and the same link as its RFC 8058 one-click headers."""
    links = unsubscribe_links(
        email=recipient["email"], ref=str(recipient["correlation_id"]), locale=locale
    )
    return BatchRecipient(
        to=Address(recipient["email"], recipient["name"]),
        correlation_id=str(recipient["correlation_id"]),
        data={**recipient["data"], "brand": brand, **links.template_values()},
        headers=links.headers,
    )


def _not_suppressed(chunk: CampaignChunk, recipients: list[dict]) -> list[dict]:
    """`recipients` minus those suppressed for promotional mail since the audience was prepared
    (an unsubscribe meanwhile adds a promotional suppression): those are cancelled with the
    reason, never sent. One query for the chunk."""
    suppressed = suppressed_emails(r["email"] for r in recipients)[Purpose.PROMOTIONAL]
    withdrawn = [r["email"] for r in recipients if r["email"].strip().lower() in suppressed]
    if not withdrawn:
        return recipients
    recipients_withdrawn(
        _pending(chunk).filter(email__in=withdrawn),
        campaign_id=chunk.campaign_id,
        error="not sent: the address was suppressed for promotional mail after the audience "
        "was prepared",
    )
    return [r for r in recipients if r["email"] not in withdrawn]


def campaign_batch(
    campaign: Campaign, version: TemplateVersion, locale: str, marker: str, recipients: list[dict]
) -> BatchEmail:
    """The provider request for `recipients` (dicts of email, name, data, correlation_id): the
    template stored at the provider when it is current there (required where a batch renders
    only stored templates: SendGrid), else our Handlebars sources (Mandrill). `marker` tags
    every recipient for later lookup."""
    brand = version.layout.brand()
    common = {
        "recipients": [_batch_recipient(r, brand, locale) for r in recipients],
        "categories": (f"campaign-{campaign.pk}",),
        "custom_args": {CHUNK_KEY: marker, CAMPAIGN_KEY: str(campaign.pk)},
        "unsubscribe_group_id": campaign.unsubscribe_group_id,
    }
    sync = TemplateSync.objects.filter(
        template_id=version.template_id,
        account=campaign.account,
        locale=locale,
        version=version,
        status=SyncStatus.CURRENT,
    ).first()
    if sync is not None:
        return BatchEmail(remote_template_id=sync.remote_id, **common)
    if batch_needs_stored_template(campaign.account):
        raise ProviderConfigurationError(
            f"version {version.number} of the template ({locale}) is not current at "
            f"{campaign.account}: publish it to that account, then resume",
            provider=campaign.account.kind,
            account=campaign.account.name,
        )
    content = provider_content(version, locale)
    return BatchEmail(subject=content.subject, html=content.html, text=content.text, **common)


def _chunk_sent(chunk: CampaignChunk, results: list[SendResult]) -> str:
    refused = {
        r.email.lower(): f"{r.status}: {r.reason}"[:500]
        for result in results
        for r in result.recipients
        if not r.accepted
    }
    message_id = next((r.provider_message_id for r in results if r.provider_message_id), "")
    now = timezone.now()
    with transaction.atomic():
        pending = _pending(chunk)
        # Mandrill refuses per recipient in a 200.
        failed = recipients_refused(pending, refused, campaign_id=chunk.campaign_id, at=now)
        sent = recipients_sent(pending, campaign_id=chunk.campaign_id, at=now)
        CampaignChunk.objects.filter(pk=chunk.pk).update(
            sent_count=F("sent_count") + sent,
            failed_count=F("failed_count") + failed,
            provider_message_id=message_id[:255],
        )
        status = _chunk_finish(chunk, ChunkStatus.SENT)
    return status


def _chunk_failed(chunk: CampaignChunk, exc: ProviderError) -> str:
    text = str(exc)
    if exc.ambiguous:
        return _chunk_finish(chunk, ChunkStatus.UNCONFIRMED, error=text, keep_hand_over=True)
    if exc.permanent and exc.status in ACCOUNT_STATUSES:
        return _stop_campaign(chunk, text)
    if exc.permanent or chunk.attempts >= MAX_CHUNK_ATTEMPTS:
        with transaction.atomic():
            failed = recipients_failed(
                _pending(chunk), campaign_id=chunk.campaign_id, error=text, at=timezone.now()
            )
            CampaignChunk.objects.filter(pk=chunk.pk).update(
                failed_count=F("failed_count") + failed
            )
            return _chunk_finish(chunk, ChunkStatus.FAILED, error=text)
    # The provider proved it did not take the request (429, 5xx, no connection): retry later.
    delay = BACKOFF.seconds(chunk.attempts, exc.retry_after)
    return _chunk_finish(
        chunk,
        ChunkStatus.PENDING,
        error=text,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def _stop_campaign(chunk: CampaignChunk, reason: str) -> str:
    """An account or configuration problem: every chunk would fail alike. The campaign is
    paused with the reason; the chunk goes back to pending for the resume."""
    Campaign.objects.filter(pk=chunk.campaign_id, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.PAUSED, error=f"paused: {reason}"[:2000]
    )
    logger.warning("campaign %s paused: %s", chunk.campaign_id, reason)
    return _chunk_finish(chunk, ChunkStatus.PENDING, error=reason)


def _chunk_finish(chunk, status, *, error="", keep_hand_over=False, **fields) -> str:
    """Record the chunk's outcome, only if it is still ours (sending)."""
    now = timezone.now()
    values = {"status": status, "error": error[:2000], **fields}
    if status in (ChunkStatus.SENT, ChunkStatus.FAILED):
        values["finished_at"] = now
    if not keep_hand_over:
        values["handed_over_at"] = None
    CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.SENDING).update(**values)
    Campaign.objects.filter(pk=chunk.campaign_id).update(heartbeat_at=now)
    return status


def chunk_reconcile(*, chunk_id: int) -> str:
    """Settle an unconfirmed chunk from the provider's activity: recipients it took are sent;
    the rest go back to pending (sent again); if the provider cannot say for good, the chunk is
    held. A transient failure of the lookup leaves it for the next sweep."""
    chunk = CampaignChunk.objects.select_related("campaign__account").get(pk=chunk_id)
    if chunk.status != ChunkStatus.UNCONFIRMED:
        return chunk.status
    try:
        accepted = client_for(chunk.campaign.account).accepted_recipients(
            CHUNK_KEY, attempt_marker(chunk), at_most=chunk.size
        )
    except ProviderError as exc:
        if not exc.permanent:
            logger.warning("chunk %s: lookup failed, asking again later: %s", chunk.pk, exc)
            return chunk.status
        CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.UNCONFIRMED).update(
            status=ChunkStatus.HELD,
            error=f"the provider cannot say what it took ({exc}): resend the unconfirmed "
            "recipients or mark them sent",
        )
        return ChunkStatus.HELD
    now = timezone.now()
    with transaction.atomic():
        pending = list(_pending(chunk).values_list("email", flat=True))
        taken = [email for email in pending if email.lower() in accepted]
        sent = 0
        for start in range(0, len(taken), 500):  # under SQLite's limit of query parameters
            some = _pending(chunk).filter(email__in=taken[start : start + 500])
            sent += recipients_sent(some, campaign_id=chunk.campaign_id, at=now)
        status = ChunkStatus.SENT if sent == len(pending) else ChunkStatus.PENDING
        CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.UNCONFIRMED).update(
            status=status,
            sent_count=F("sent_count") + sent,
            handed_over_at=None,
            next_attempt_at=None,
            finished_at=now if status == ChunkStatus.SENT else None,
            error=f"reconciled: the provider had {sent} of {len(pending)} recipients",
        )
        campaign = Campaign.objects.select_related("account").get(pk=chunk.campaign_id)
        if status == ChunkStatus.PENDING and campaign.status == CampaignStatus.SENDING:
            runners_start(campaign)  # the rest goes out now, not when the sweep finds it quiet
    campaign_finish_if_done(chunk.campaign_id)
    logger.info("campaign chunk %s reconciled: %s of %s taken", chunk.pk, sent, len(pending))
    return status


def campaign_finish_if_done(campaign_id: int) -> bool:
    """Mark a sending campaign finished when no chunk is left to send or settle."""
    if CampaignChunk.objects.filter(campaign_id=campaign_id, status__in=LIVE).exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.FINISHED, finished_at=timezone.now()
        )
    )
