"""Preparing a campaign's audience: the segment's customers (suppressed addresses and those
without consent left out, counted by reason) become CampaignRecipient rows, 1,000 to a chunk
per template locale, in one transaction: a crash leaves no half-built audience. Memory stays
flat: rows are read with a server-side cursor and written 1,000 at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from config.bulk import rows_insert
from providers.clients import (
    CampaignSending,
    campaign_sending,
)
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from returns_mail.selectors.segments import segment_audience
from returns_mail.services.campaign_chunks import (
    runners_start,
)
from templates_lib.rendering import pick_locale

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
READ_BATCH = 2000


# What a recipient's data is made of (read as plain values: no model instance per customer).
CUSTOMER_FIELDS = (
    "email",
    "name",
    "locale",
    "returns_count",
    "total_refunded",
    "refund_currency",
    "tags",
    "last_return_id",
)
RECIPIENT_COLUMNS = (
    *("campaign", "chunk_number", "email", "name", "data", "correlation_id", "status", "error"),
)


def recipient_data(customer: Mapping) -> dict:
    """The per-recipient template variables (the customer as templates see it), from a
    mapping of CUSTOMER_FIELDS."""
    name = (customer.get("name") or "").strip()
    return {
        "customer": {
            "email": customer.get("email") or "",
            "name": name,
            "first_name": name.split()[0] if name else "",
            "locale": customer.get("locale") or "",
            "returns_count": customer.get("returns_count") or 0,
            "total_refunded": f"{customer.get('total_refunded') or 0:.2f}",
            "refund_currency": customer.get("refund_currency") or "",
            "tags": list(customer.get("tags") or ()),
        },
        "return_id": customer.get("last_return_id") or "",
    }


class _Chunker:
    """Deals recipients into chunks of 1,000 per locale, writing each chunk as it fills."""

    def __init__(self, campaign: Campaign, locales, default_locale: str, *, single_locale: bool):
        self.campaign = campaign
        self.locales, self.default = locales, default_locale
        self.single_locale = single_locale
        self.buffers: dict[str, list[dict]] = {}
        self.number = 0
        self.total = 0

    def add(self, customer: dict) -> None:
        locale = (
            self.default
            if self.single_locale
            else pick_locale(self.locales, customer["locale"], self.default)
        )
        buffer = self.buffers.setdefault(locale, [])
        buffer.append(customer)
        if len(buffer) >= CHUNK_SIZE:
            self._write(locale, buffer)
            self.buffers[locale] = []

    def close(self) -> None:
        for locale, buffer in self.buffers.items():
            if buffer:
                self._write(locale, buffer)
        self.buffers = {}

    def _write(self, locale: str, customers: list[dict]) -> None:
        self.number += 1
        rows_insert(
            CampaignRecipient,
            RECIPIENT_COLUMNS,
            (
                (
                    self.campaign.pk,
                    self.number,
                    c["email"],
                    (c["name"] or "")[:200],
                    recipient_data(c),
                    uuid.uuid4(),
                    RecipientStatus.PENDING,
                    "",
                )
                for c in customers
            ),
        )
        CampaignChunk.objects.create(
            campaign=self.campaign, number=self.number, locale=locale, size=len(customers)
        )
        self.total += len(customers)


def campaign_prepare(*, campaign_id: int) -> Campaign | None:
    """Materialise the audience as recipients and chunks, then start the senders."""
    campaign = Campaign.objects.select_related("segment", "account", "template_version").get(
        pk=campaign_id
    )
    if campaign.status != CampaignStatus.PREPARING:
        return None
    audience = segment_audience(campaign.segment)
    version = campaign.template_version
    with transaction.atomic():
        # Another run of this task may have got here first: only one may build the rows.
        locked = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign.pk, status=CampaignStatus.PREPARING)
            .first()
        )
        if locked is None:
            return None
        CampaignChunk.objects.filter(campaign=campaign).delete()
        CampaignRecipient.objects.filter(campaign=campaign).delete()
        chunker = _Chunker(
            campaign,
            list(version.contents),
            version.default_locale,
            # A provider's own campaign has one content: everyone gets the default locale.
            single_locale=campaign_sending(campaign.account) == CampaignSending.PROVIDER_CAMPAIGN,
        )
        rows = audience.recipients.order_by("pk").values(*CUSTOMER_FIELDS)
        for customer in rows.iterator(chunk_size=READ_BATCH):
            chunker.add(customer)
        chunker.close()
        now = timezone.now()
        Campaign.objects.filter(pk=campaign.pk).update(
            status=CampaignStatus.SENDING,
            total=chunker.total,
            excluded=audience.excluded,
            heartbeat_at=now,
        )
        campaign.refresh_from_db()
        runners_start(campaign)
    logger.info("campaign %s prepared: %s recipients", campaign.pk, campaign.total)
    return campaign
