"""Signals for the apps above returns_mail (analytics), which it must not import.

Only services/lifecycle.py sends them, inside the transaction that writes the change (its
docstring says what that means for receivers)."""

from datetime import datetime

from django.dispatch import Signal

# Once per group of messages making the same status transition in one write: sender=Message,
# transition=<lifecycle.Transition>, message_ids=<tuple of ids>, old=<status before>,
# new=<status after>, at=<their status_changed_at>.
message_transitioned = Signal()

# Once per group of campaign recipients settled together: sender=CampaignRecipient,
# campaign_id=<int>, status=<"sent", "failed" or "cancelled">, count=<how many>, at=<their
# sent_at; otherwise, when they were settled>.
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
