"""django-q2 entry points of returns_mail: each takes an id and calls one service."""

from returns_mail.services import (
    audience,
    campaign_audience,
    campaign_chunks,
    campaign_mailchimp,
    campaign_recovery,
    customers,
    erasure,
    messages,
    sending,
    suppression_import,
    suppression_mirror,
)


def send_message(message_id: int) -> None:
    sending.message_send(message_id=message_id)


def reconcile_message(message_id: int) -> str:
    return messages.message_reconcile(message_id=message_id)


def sweep_messages() -> int:
    """Only the schedule runs it (every minute). Customers are swept here too, not in
    sync_audiences: every changed customer rings that one."""
    customers.customers_sweep()
    return messages.messages_sweep()


def apply_events_to_customers(event_ids: list[int]) -> None:
    """Queued once per accepted request, with its events' ids."""
    customers.customers_apply_events(event_ids=event_ids)


def sync_audiences() -> dict:
    audience.audience_sync_rung()  # first: a customer changed from now on rings again
    erasure.audience_erasures_sweep()  # every minute too: deletions due again
    return audience.audience_sync_pending().as_dict()


def unsubscribe_mirror(suppression_id: int) -> int:
    """Queued by webhooks reporting an unsubscribe: mirror it to the other providers."""
    return audience.unsubscribe_mirror(suppression_id=suppression_id)


def mirror_unsubscribes() -> int:
    """Only the schedule runs it (every minute): the unsubscribes not yet mirrored."""
    return suppression_mirror.unsubscribes_mirror_pending()


def import_suppressions(account_id: int) -> dict:
    """Queued when an account is connected, daily, by the admin, and again after a rate
    limit: import the account's own suppression lists."""
    return suppression_import.suppressions_import(account_id=account_id).as_dict()


def import_suppressions_all() -> int:
    """Only the schedule runs it (daily): one import task per account."""
    return suppression_import.suppressions_import_all()


def campaign_prepare(campaign_id: int) -> None:
    campaign_audience.campaign_prepare(campaign_id=campaign_id)


def campaign_run(campaign_id: int) -> int:
    return campaign_chunks.campaign_run(campaign_id=campaign_id)


def campaign_mailchimp_run(campaign_id: int) -> str:
    return campaign_mailchimp.campaign_mailchimp_run(campaign_id=campaign_id)


def sweep_campaigns() -> dict:
    return campaign_recovery.campaigns_sweep()


def audience_member_erase(erasure_id: int) -> str:
    return erasure.audience_member_erase(erasure_id=erasure_id)
