"""Campaign results of kinds whose webhooks say nothing per email (Mailchimp Marketing): the
provider's campaign report, pulled while the campaign is recent, rolled up exactly as webhook
events are.

Each page of the report's member activity (then of its unsubscribes and abuse reports)
becomes one stored delivery (kept once per body: an
unchanged page pulled again is nothing new) whose events go through the webhook path
(`deliveries.webhook_delivery_process`): one DeliveryEvent per fingerprint, the recipient's
times through returns_mail's lifecycle, the rollups, the suppressions a bounce calls for. A
re-pull therefore adds nothing. Mailchimp counts as delivered what it sent and did not bounce:
every member of the report without a bounce gets one *delivered* event at the send time (the
same reading as Mandrill's outcomes-only webhooks)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.services.deliveries import webhook_delivery_process, webhook_delivery_store
from config.queue import enqueue_each_on_commit
from providers.clients import Capability, client_for, kinds_that_can
from providers.clients.report_types import ActivityPage
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent, ParsedBatch
from returns_mail.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus

logger = logging.getLogger(__name__)

T = DeliveryEventType
# Marks a stored delivery as a pulled report page, not a webhook request.
REPORT_CONTENT_TYPE = "application/json; source=campaign-report"
_ACTIONS = {
    "open": T.OPENED,
    "click": T.CLICKED,
    "bounce": T.BOUNCED,
    "unsub": T.UNSUBSCRIBED,
    "abuse": T.COMPLAINED,
}
_BOUNCES = {"hard": BounceKind.HARD, "soft": BounceKind.SOFT}


@dataclass(frozen=True)
class ReportPull:
    pages: int
    events_new: int


def campaigns_due_for_reports():
    """Finished campaigns sent by a kind that reports through campaign reports, within
    CAMPAIGN_REPORTS_DAYS of their end."""
    since = timezone.now() - timedelta(days=settings.CAMPAIGN_REPORTS_DAYS)
    return Campaign.objects.filter(
        status=CampaignStatus.FINISHED,
        finished_at__gte=since,
        account__kind__in=kinds_that_can(Capability.CAMPAIGN_REPORTS),
    ).exclude(remote_campaign_id="")


def campaign_reports_queue() -> int:
    """Queue one pull per due campaign (the schedule's entry point); returns how many."""
    ids = list(campaigns_due_for_reports().values_list("pk", flat=True))
    enqueue_each_on_commit("analytics.tasks.pull_campaign_report", ids)
    return len(ids)


def campaign_report_pull(*, campaign_id: int) -> ReportPull:
    """Read the campaign's report and apply what is new. Provider errors are raised (the next
    schedule tries again); pages applied before the error stay applied."""
    campaign = Campaign.objects.select_related("account").get(pk=campaign_id)
    if not campaign.remote_campaign_id:
        raise ValueError(f"campaign {campaign_id} has no campaign at the provider")
    client = client_for(campaign.account)
    summary = client.campaign_report(campaign.remote_campaign_id)
    sent_at = summary.send_time or campaign.finished_at or timezone.now()
    recipients = dict(
        CampaignRecipient.objects.filter(
            campaign=campaign, status=RecipientStatus.SENT
        ).values_list("email", "correlation_id")
    )
    recipients = {email.lower(): str(cid) for email, cid in recipients.items()}
    pages = new = 0
    remote_id = campaign.remote_campaign_id
    for page in client.campaign_email_activity(remote_id):
        pages += 1
        new += _apply(campaign, _events(page, recipients, sent_at=sent_at, remote_id=remote_id))
    # Unsubscribes and complaints have their own lists; read after the activity, so a
    # recipient's delivery is recorded before them.
    for page in client.campaign_unsubscribes(remote_id):
        pages += 1
        new += _apply(campaign, _events(page, recipients, sent_at=sent_at, remote_id=remote_id))
    complaints = client.campaign_abuse_reports(remote_id)
    listed = ActivityPage(complaints, (), len(complaints), len(complaints), True)
    new += _apply(campaign, _events(listed, recipients, sent_at=sent_at, remote_id=remote_id))
    Campaign.objects.filter(pk=campaign.pk).update(
        report_collected_at=timezone.now(),
        report_summary=json.loads(json.dumps(asdict(summary), default=str)),
    )
    return ReportPull(pages=pages, events_new=new)


def _events(page: ActivityPage, recipients: dict[str, str], *, sent_at, remote_id: str):
    """Our events of one page: its members' actions, and a delivery for each member that did
    not bounce. Members we have no recipient row for are left out (not our send)."""
    bounced = {a.email for a in page.actions if a.action == "bounce"}
    events = [
        NormalizedEvent(
            type=T.DELIVERED,
            provider_event="sent",
            occurred_at=sent_at,
            recipient=email,
            correlation_id=recipients[email],
            provider_message_id=remote_id,
        )
        for email in page.members
        if email in recipients and email not in bounced
    ]
    for action in page.actions:
        if action.email not in recipients:
            continue
        events.append(
            NormalizedEvent(
                type=_ACTIONS[action.action],
                provider_event=action.action,
                occurred_at=action.occurred_at,
                recipient=action.email,
                correlation_id=recipients[action.email],
                provider_message_id=remote_id,
                bounce_kind=_BOUNCES.get(action.bounce_type, "")
                if action.action == "bounce"
                else "",
                url=action.url,
                reason=action.reason,
                # Leaving through a campaign leaves the audience: the member's consent goes
                # as with the audience's own unsubscribe webhook.
                member_status="unsubscribed" if action.action == "unsub" else "",
            )
        )
    return sorted(events, key=lambda e: (e.occurred_at, e.recipient, e.type))


def _apply(campaign: Campaign, events: list[NormalizedEvent]) -> int:
    if not events:
        return 0
    body = json.dumps(
        {
            "campaign_id": campaign.remote_campaign_id,
            "events": [
                [e.type, e.recipient, e.occurred_at.isoformat(), e.bounce_kind, e.url]
                for e in events
            ],
        },
        sort_keys=True,
    ).encode("utf-8")
    delivery = webhook_delivery_store(
        account=campaign.account,
        body=body,
        content_type=REPORT_CONTENT_TYPE,
        received_at=timezone.now(),
    )
    if delivery is None:  # this very page was applied before
        return 0
    return webhook_delivery_process(delivery=delivery, batch=ParsedBatch(events=events)).events_new
