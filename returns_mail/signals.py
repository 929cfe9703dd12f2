"""Signals for the apps above returns_mail (analytics), which it must not import."""

from datetime import datetime

from django.dispatch import Signal

# Sent inside the transaction that records a send's outcome, once per message reaching "sent"
# or "failed": sender=Message, message=<Message, refreshed>, status=<the new status>.
message_finished = Signal()

# Sent inside the transaction that records the send outcome of campaign recipients, once per
# group settled together: sender=CampaignRecipient, campaign_id=<int>, status=<"sent" or
# "failed">, count=<how many>, at=<their sent_at; for "failed", when they failed>.
campaign_recipients_finished = Signal()


def campaign_recipients_finished_send(
    *, campaign_id: int, status: str, count: int, at: datetime
) -> None:
    if count <= 0:
        return
    from returns_mail.models import CampaignRecipient

    campaign_recipients_finished.send(
        sender=CampaignRecipient, campaign_id=campaign_id, status=status, count=count, at=at
    )
