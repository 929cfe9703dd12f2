"""django-q2 entry points of analytics: each takes an id (or nothing) and calls one service."""

from analytics.services import alerts, campaign_reports, health, replies, retention
from returns_mail.services import audience


def run_health_checks() -> int | None:
    """Every minute (schedule): queue the account checks and the intake probe, prune."""
    intake = health.health_checks_run()
    return intake.pk if intake else None


def probe_intake() -> None:
    """Queued by run_health_checks: the worker's HTTP probe of the intake's /readyz."""
    health.intake_http_probe()


def check_account_health(account_id: int) -> None:
    health.account_health_check(account_id=account_id)


def evaluate_alerts() -> dict[str, int]:
    """Every minute (schedule): open, refresh, resolve and notify alerts."""
    return alerts.alerts_evaluate()


def unsubscribe_mirror(suppression_id: int) -> int:
    """Moved to returns_mail.tasks.unsubscribe_mirror; kept so that tasks queued under this
    name before the move still run. Nothing queues it any more."""
    return audience.unsubscribe_mirror(suppression_id=suppression_id)


def purge_old_data() -> dict:
    """Daily (schedule): everything retention removes (analytics/services/retention.py); the
    task's result is what it did, counted per kind."""
    return retention.old_data_purge_scheduled().as_dict()


def reply_forward(reply_id: int) -> bool:
    """Queued for each person's reply when REPLY_FORWARD_TO is set; retries queue themselves."""
    return replies.reply_forward(reply_id=reply_id)


def pull_campaign_reports() -> int:
    """Every 15 minutes (schedule): queue a report pull for each recent provider-sent campaign."""
    return campaign_reports.campaign_reports_queue()


def pull_campaign_report(campaign_id: int) -> int:
    return campaign_reports.campaign_report_pull(campaign_id=campaign_id).events_new
