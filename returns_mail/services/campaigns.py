"""Campaign lifecycle: check, start, pause, resume, cancel, test sends, admin decisions on held
chunks. Preparing the audience is returns_mail.services.campaign_audience; the sweep that keeps
running campaigns moving is returns_mail.services.campaign_recovery.
"""

from __future__ import annotations

import logging
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from config.audit import audit_record
from config.queue import enqueue_on_commit
from providers.clients import (
    CampaignSending,
    Capability,
    account_can,
    batch_needs_stored_template,
    campaign_needs_unsubscribe_group,
    campaign_sending,
    cannot_message,
    client_for,
)
from providers.exceptions import ProviderError
from providers.models import Purpose
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
)
from returns_mail.selectors.segments import segment_audience
from returns_mail.services.campaign_audience import CUSTOMER_FIELDS, recipient_data
from returns_mail.services.campaign_chunks import (
    campaign_batch,
    campaign_finish_if_done,
    runners_start,
)
from returns_mail.services.lifecycle import recipients_cancel, recipients_sent
from templates_lib.models import SyncStatus, TemplateSync

logger = logging.getLogger(__name__)

STARTABLE = (CampaignStatus.DRAFT,)
CANCELLABLE = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.PREPARING,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)


class CampaignError(ReturnsMailError):
    """A campaign cannot do what was asked; the message says why. Nothing was changed."""


# --- checks and start ------------------------------------------------------------------------
def campaign_problems(campaign: Campaign) -> list[str]:
    """What stops the campaign from being sent as configured (empty: ready)."""
    problems = []
    account, template = campaign.account, campaign.template
    if not account.is_active:
        problems.append(f"the account {account} is not active")
    if not Purpose.serves(account.purpose, Purpose.PROMOTIONAL):
        problems.append(f"the account {account} is for transactional mail only")
    sending = campaign_sending(account)
    if sending == CampaignSending.NONE:
        problems.append(f"{account.get_kind_display()} accounts cannot send campaigns")
    if template.purpose != Purpose.PROMOTIONAL:
        problems.append("the template is not a promotional template")
    version = template.active_version
    if version is None:
        problems.append("the template has no published version")
    if campaign_needs_unsubscribe_group(account) and campaign.unsubscribe_group_id is None:
        problems.append(f"{account.get_kind_display()} campaigns need an unsubscribe group")
    if (
        batch_needs_stored_template(account)
        and version is not None
        and not _synced(campaign, version, version.default_locale)
    ):
        problems.append(
            f"the published version is not current at {account}: publish the template to "
            f"this account first ({account.get_kind_display()} personalises only stored "
            "templates)"
        )
    if sending == CampaignSending.PROVIDER_CAMPAIGN and not account.audience_id:
        problems.append(f"the account {account} has no audience id")
    problems += [f"test recipient {e!r} is not an address" for e in _bad(campaign)]
    return problems


def _synced(campaign: Campaign, version, locale: str) -> bool:
    return TemplateSync.objects.filter(
        template=campaign.template,
        account=campaign.account,
        locale=locale,
        version=version,
        status=SyncStatus.CURRENT,
    ).exists()


def test_addresses(campaign: Campaign) -> list[str]:
    return [a for a in re.split(r"[\s,;]+", campaign.test_recipients) if a]


def _bad(campaign: Campaign) -> list[str]:
    bad = []
    for address in test_addresses(campaign):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    return bad


def campaign_start(*, campaign_id: int, actor=None) -> Campaign:
    """Start a draft: pin the published template version; prepare now, or at `send_at` when we
    send its batches (a provider sending its own campaign schedules it there after
    preparing)."""
    campaign = Campaign.objects.select_related("account", "template__active_version").get(
        pk=campaign_id
    )
    if campaign.status not in STARTABLE:
        raise CampaignError(f"the campaign is {campaign.get_status_display().lower()} already")
    problems = campaign_problems(campaign)
    if problems:
        raise CampaignError("; ".join(problems))
    now = timezone.now()
    later = campaign.send_at is not None and campaign.send_at > now
    provider_schedules = campaign_sending(campaign.account) == CampaignSending.PROVIDER_CAMPAIGN
    waits = later and not provider_schedules
    status = CampaignStatus.SCHEDULED if waits else CampaignStatus.PREPARING
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, status__in=STARTABLE).update(
            status=status,
            template_version=campaign.template.active_version,
            started_at=now,
            heartbeat_at=now,
            error="",
        )
        if not changed:
            raise CampaignError("the campaign was started by someone else")
        if status == CampaignStatus.PREPARING:
            enqueue_on_commit("returns_mail.tasks.campaign_prepare", campaign.pk)
    logger.info("campaign %s started by %s (%s)", campaign.pk, actor or "the system", status)
    campaign.refresh_from_db()
    audit_record(actor=actor, obj=campaign, action="change", message="started the campaign")
    return campaign


# --- pause, resume, cancel --------------------------------------------------------------------
def campaign_pause(*, campaign_id: int, actor=None) -> Campaign:
    """Stop claiming chunks; a chunk already with the provider finishes."""
    if not Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.PAUSED, error=f"paused by {actor or 'an admin'}"
    ):
        raise CampaignError("only a sending campaign can be paused")
    campaign = Campaign.objects.get(pk=campaign_id)
    audit_record(actor=actor, obj=campaign, action="change", message="paused the campaign")
    return campaign


def campaign_resume(*, campaign_id: int, actor=None) -> Campaign:
    campaign = Campaign.objects.select_related("account").get(pk=campaign_id)
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.PAUSED).update(
            status=CampaignStatus.SENDING, error="", heartbeat_at=timezone.now()
        ):
            raise CampaignError("only a paused campaign can be resumed")
        runners_start(campaign)
    campaign.refresh_from_db()
    audit_record(actor=actor, obj=campaign, action="change", message="resumed the campaign")
    return campaign


def campaign_cancel(*, campaign_id: int, actor=None) -> Campaign:
    """Cancel what has not gone out; chunks already with the provider still finish."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, status__in=CANCELLABLE).update(
            status=CampaignStatus.CANCELLED,
            finished_at=timezone.now(),
            error=f"cancelled by {actor or 'an admin'}",
        ):
            raise CampaignError("the campaign is finished or cancelled already")
        # Only chunks still pending: one a runner claimed meanwhile is left to finish.
        chunks = CampaignChunk.objects.filter(campaign_id=campaign_id)
        chunks.filter(status=ChunkStatus.PENDING).update(status=ChunkStatus.CANCELLED)
        numbers = list(chunks.filter(status=ChunkStatus.CANCELLED).values_list("number", flat=True))
        recipients_cancel(
            CampaignRecipient.objects.filter(campaign_id=campaign_id, chunk_number__in=numbers),
            campaign_id=campaign_id,
        )
    campaign = Campaign.objects.get(pk=campaign_id)
    audit_record(actor=actor, obj=campaign, action="change", message="cancelled the campaign")
    return campaign


def chunk_release(*, chunk_id: int, resend: bool, actor=None) -> CampaignChunk:
    """An admin's decision on a held chunk: resend its unconfirmed recipients (they may get it
    twice) or record them as sent (some may have got nothing)."""
    chunk = CampaignChunk.objects.select_related("campaign__account").get(pk=chunk_id)
    now = timezone.now()
    with transaction.atomic():
        if resend:
            changed = CampaignChunk.objects.filter(pk=chunk_id, status=ChunkStatus.HELD).update(
                status=ChunkStatus.PENDING,
                next_attempt_at=None,
                handed_over_at=None,
                error=f"resend released by {actor or 'an admin'}",
            )
            if changed and chunk.campaign.status == CampaignStatus.SENDING:
                runners_start(chunk.campaign)
        else:
            sent = recipients_sent(
                CampaignRecipient.objects.filter(
                    campaign_id=chunk.campaign_id, chunk_number=chunk.number
                ),
                campaign_id=chunk.campaign_id,
                at=now,
            )
            changed = CampaignChunk.objects.filter(pk=chunk_id, status=ChunkStatus.HELD).update(
                status=ChunkStatus.SENT,
                sent_count=chunk.sent_count + sent,
                finished_at=now,
                error=f"marked sent by {actor or 'an admin'}",
            )
        if not changed:
            raise CampaignError("only a held chunk can be released")
    campaign_finish_if_done(chunk.campaign_id)  # it may have been the last one
    chunk.refresh_from_db()
    return chunk


# --- test sends -------------------------------------------------------------------------------
def campaign_send_test(*, campaign_id: int) -> list[str]:
    """Send the campaign's current template to its test recipients, with the data of the
    segment's first member (or a sample). Not counted in the campaign; returns the addresses."""
    campaign = Campaign.objects.select_related("account", "template__active_version").get(
        pk=campaign_id
    )
    addresses = test_addresses(campaign)
    if not addresses:
        raise CampaignError("add test recipients first")
    problems = [p for p in campaign_problems(campaign) if "test recipient" in p]
    if problems:
        raise CampaignError("; ".join(problems))
    if not account_can(campaign.account, Capability.SEND_BATCH):
        raise CampaignError(cannot_message(campaign.account, Capability.SEND_BATCH, "send tests"))
    version = campaign.template_version or campaign.template.active_version
    if version is None:
        raise CampaignError("the template has no published version")
    recipients = segment_audience(campaign.segment).recipients.order_by("pk")
    sample = recipients.values(*CUSTOMER_FIELDS).first() or {"name": "Alex Sample"}
    data = recipient_data(sample)
    rows = [{"email": a, "name": "", "data": data, "correlation_id": ""} for a in addresses]
    try:
        batch = campaign_batch(campaign, version, version.default_locale, "test", rows)
        client_for(campaign.account).send_batch(batch)
    except ProviderError as exc:
        raise CampaignError(f"the test send failed: {exc}") from None
    return addresses
