"""A campaign through Mailchimp Marketing: the audience is Mailchimp's, so the campaign's
recipients are put into a static segment of it, and one Mailchimp campaign is created for that
segment, given the template's content (merge tags) and sent or scheduled.

Every step is idempotent and its result is kept on the row (segment id, campaign id) before the
next: a run after a crash picks up where the last stopped. Adding members to a static segment
twice is harmless; the one step that must not repeat, send / schedule, first asks Mailchimp the
campaign's status.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from providers.clients import client_for
from providers.exceptions import ProviderError
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
    RecipientStatus,
)
from returns_mail.services.audience import audience_sync_pending
from returns_mail.services.campaign_chunks import chunk_claim_next
from returns_mail.services.lifecycle import recipients_failed, recipients_sent
from templates_lib.services.sync import content_for

logger = logging.getLogger(__name__)

# Mailchimp has the campaign from these statuses on: sending must not be asked again.
HANDED_OVER = ("schedule", "sending", "sent")
NOT_ON_LIST = "not in the Mailchimp audience (not synced, or removed there)"


def campaign_mailchimp_run(*, campaign_id: int) -> str:
    """Take the campaign as far as it can go; returns its status. A provider error pauses it
    with Mailchimp's words (resume to retry), as every step would fail the same way."""
    campaign = Campaign.objects.select_related("account", "template_version__layout").get(
        pk=campaign_id
    )
    if campaign.status != CampaignStatus.SENDING:
        return campaign.status
    client = client_for(campaign.account)
    try:
        # Customers changed since the last live sync must be in the audience to be segmented.
        audience_sync_pending(account_id=campaign.account_id)
        if not campaign.remote_segment_id:
            segment_id = client.segment_create(name=f"Returns Mail campaign {campaign.pk}")
            _keep(campaign, remote_segment_id=str(segment_id))
        while (chunk := chunk_claim_next(campaign.pk)) is not None:
            _fill(client, campaign, chunk)
        if CampaignChunk.objects.filter(
            campaign=campaign, status__in=(ChunkStatus.PENDING, ChunkStatus.SENDING)
        ).exists():
            return campaign.status  # paused or cancelled meanwhile, or another run has some
        if not campaign.remote_campaign_id:
            remote_id = client.campaign_create(
                subject=_content(campaign).subject,
                segment_id=int(campaign.remote_segment_id),
                title=f"{campaign.name} (Returns Mail {campaign.pk})",
            )
            _keep(campaign, remote_campaign_id=remote_id)
        content = _content(campaign)
        if client.campaign_status(campaign_id=campaign.remote_campaign_id) not in HANDED_OVER:
            client.campaign_set_content(
                campaign_id=campaign.remote_campaign_id, html=content.html, text=content.text
            )
            if campaign.send_at and campaign.send_at > timezone.now():
                when = quarter_hour(campaign.send_at)
                _keep(campaign, send_at=when)  # the time Mailchimp will send it
                client.campaign_schedule(campaign_id=campaign.remote_campaign_id, send_at=when)
            else:
                client.campaign_send(campaign_id=campaign.remote_campaign_id)
    except ProviderError as exc:
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.PAUSED, error=f"paused: {exc}"[:2000]
        )
        logger.warning("Mailchimp campaign %s paused: %s", campaign.pk, exc)
        return CampaignStatus.PAUSED
    return _handed_over(campaign)


def quarter_hour(moment: datetime) -> datetime:
    """Mailchimp schedules on the quarter-hour only: the first one at or after `moment`."""
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=15)


def _content(campaign: Campaign):
    version = campaign.template_version
    return content_for(version, version.default_locale, campaign.account)


def _keep(campaign: Campaign, **fields) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(heartbeat_at=timezone.now(), **fields)
    for name, value in fields.items():
        setattr(campaign, name, value)


def _fill(client, campaign: Campaign, chunk: CampaignChunk) -> None:
    """Add the chunk's recipients to the static segment (at most 500 a call)."""
    emails = list(
        CampaignRecipient.objects.filter(
            campaign=campaign, chunk_number=chunk.number, status=RecipientStatus.PENDING
        ).values_list("email", flat=True)
    )
    try:
        change = client.segment_members_update(
            segment_id=int(campaign.remote_segment_id), add=emails
        )
    except ProviderError as exc:
        CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.SENDING).update(
            status=ChunkStatus.PENDING, error=str(exc)[:2000]
        )
        raise
    missing = {e.lower() for e in change.not_on_list}
    with transaction.atomic():
        failed = recipients_failed(
            CampaignRecipient.objects.filter(
                campaign=campaign, chunk_number=chunk.number, email__in=missing
            ),
            campaign_id=campaign.pk,
            error=NOT_ON_LIST,
            at=timezone.now(),
        )
        CampaignChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.SENDING).update(
            status=ChunkStatus.SENT, failed_count=failed, finished_at=timezone.now()
        )
        _keep(campaign)


def _handed_over(campaign: Campaign) -> str:
    """Mailchimp has the campaign: its segment's recipients count as sent."""
    now = timezone.now()
    sent_at = campaign.send_at or now
    with transaction.atomic():
        recipients_sent(
            CampaignRecipient.objects.filter(campaign=campaign), campaign_id=campaign.pk, at=sent_at
        )
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.FINISHED, finished_at=now
        )
    return CampaignStatus.FINISHED
