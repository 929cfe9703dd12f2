"""Alert rules evaluated every minute: a firing rule opens one alert per subject (an account, a
template sync) that stays open, updated, until its condition clears; IT admins are emailed once
per alert. A failed notification is recorded on the alert and retried at the next evaluation.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from analytics.models import (
    Alert,
    AlertKind,
    AlertRule,
    DeliveryEvent,
    HealthCheck,
    HealthComponent,
    WebhookDelivery,
)
from analytics.services.alert_findings import (
    Finding,
    account_finding,
    accounts_watched,
    open_subjects,
    window,
)
from analytics.services.alerts_reputation import complaint_rate_findings, sender_auth_findings
from config.public_url import absolute_url
from providers.clients import Reporting, client_for, kinds_reporting
from providers.clients.base import scrub_secrets
from providers.clients.types import Address, OutgoingEmail
from providers.webhooks.types import DeliveryEventType
from returns_mail.models import Attempt, Message, MessageStatus
from returns_mail.roles import IT_ADMINS
from templates_lib.models import SyncStatus, TemplateSync

logger = logging.getLogger(__name__)

# What the webhooks of a kind that posts delivery webhooks report (Mailchimp Marketing's
# audience hooks do not follow sends; SMTP has none).
DELIVERY_WEBHOOKS = (Reporting.EACH_EMAIL, Reporting.OUTCOMES_ONLY)
NO_ACCOUNT_SUBJECT = "no-account"
ALERT_CATEGORY = "returns-mail-alert"


# --- evaluation ------------------------------------------------------------------------------
def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every rule, open/update/resolve alerts, then notify every open alert that has not
    been notified yet (first tries and retries). One broken rule never stops the others."""
    now = now or timezone.now()
    summary: Counter[str] = Counter()
    for rule in AlertRule.objects.select_related("account"):
        if not rule.enabled:  # switched off: its open alerts close with it
            summary["resolved"] += _resolve_cleared(rule, set(), now)
            continue
        try:
            findings = CONDITIONS[rule.kind](rule, now)
        except Exception:
            logger.exception("alert rule %s (%s) could not be evaluated", rule.pk, rule.kind)
            summary["errors"] += 1
            continue
        summary.update(alert_rule_apply(rule=rule, findings=findings, now=now))
    pending = Alert.objects.filter(resolved_at__isnull=True, notified_at__isnull=True)
    for alert_id in pending.order_by("pk").values_list("pk", flat=True):
        summary["notified" if alert_notify(alert_id=alert_id) else "notify_failed"] += 1
    return {key: n for key, n in summary.items() if n}


def alert_rule_apply(*, rule: AlertRule, findings: list[Finding], now: datetime) -> Counter:
    """Open an alert for each new firing subject, refresh the open ones, resolve the cleared."""
    counts: Counter[str] = Counter()
    open_alerts = open_subjects(rule)
    for finding in findings:
        fields = {"last_seen_at": now, "value": finding.value, "detail": finding.detail}
        if finding.subject not in open_alerts:
            try:
                with transaction.atomic():
                    Alert.objects.create(
                        rule=rule, subject=finding.subject, account_id=finding.account_id, **fields
                    )
                counts["opened"] += 1
                continue
            except IntegrityError:  # another evaluation opened it first: refresh that one
                pass
        Alert.objects.filter(rule=rule, subject=finding.subject, resolved_at__isnull=True).update(
            **fields
        )
        counts["firing"] += 1
    if resolved := _resolve_cleared(rule, {f.subject for f in findings}, now):
        counts["resolved"] += resolved
    return counts


def _resolve_cleared(rule: AlertRule, firing: set[str], now: datetime) -> int:
    return (
        Alert.objects.filter(rule=rule, resolved_at__isnull=True)
        .exclude(subject__in=firing)
        .update(resolved_at=now)
    )


def alerts_resolve(*, alert_ids: list[int], now: datetime | None = None) -> int:
    """Resolve open alerts by hand (admin). If the condition still holds, the next evaluation
    opens a new alert, and notifies again."""
    return Alert.objects.filter(pk__in=alert_ids, resolved_at__isnull=True).update(
        resolved_at=now or timezone.now()
    )


# --- conditions: rule -> the subjects it fires for now --------------------------------------
def bounce_rate_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """Bounces / (delivered + bounced + rejected) over the window, with at least min_volume
    outcomes, above `threshold` percent."""
    accounts = accounts_watched(rule)
    since, until = window(rule, now)
    bounced = DeliveryEventType.BOUNCED
    rows = (
        DeliveryEvent.objects.filter(
            account_id__in=accounts,
            occurred_at__gt=since,
            occurred_at__lte=until,
            type__in=(DeliveryEventType.DELIVERED, bounced, DeliveryEventType.REJECTED),
        )
        .values("account_id")
        .annotate(bounces=Count("pk", filter=Q(type=bounced)), outcomes=Count("pk"))
    )
    findings = []
    for row in rows:
        if row["outcomes"] < max(rule.min_volume, 1):
            continue
        rate = round(100 * row["bounces"] / row["outcomes"], 2)
        if rate > rule.threshold:
            account = accounts[row["account_id"]]
            findings.append(
                account_finding(
                    account,
                    rate,
                    f"Bounce rate {rate:g}% ({row['bounces']} of {row['outcomes']} outcomes) in "
                    f"the last {rule.window_minutes} minutes at {account.name}; "
                    f"threshold {rule.threshold:g}%.",
                )
            )
    return findings


def failed_sends_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """Messages that became failed in the window: more than `threshold` per account. A rule for
    every account also counts failures that never reached an account (no active route)."""
    accounts = accounts_watched(rule)
    since, until = window(rule, now)
    failed = Message.objects.filter(
        status=MessageStatus.FAILED, status_changed_at__gt=since, status_changed_at__lte=until
    )
    scope = Q(account_id__in=accounts)
    if not rule.account_id:
        scope |= Q(account__isnull=True)
    findings = []
    for row in failed.filter(scope).values("account_id").annotate(failed=Count("pk")):
        if row["failed"] <= rule.threshold:
            continue
        account = accounts.get(row["account_id"])
        where = f"at {account.name}" if account else "before any account was reached"
        detail = (
            f"{row['failed']} sends failed {where} in the last {rule.window_minutes} minutes; "
            f"threshold {rule.threshold:g}."
        )
        if account is None:
            findings.append(Finding(NO_ACCOUNT_SUBJECT, row["failed"], detail))
        else:
            findings.append(account_finding(account, row["failed"], detail))
    return findings


def check_failing_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """The account's last `threshold` credential checks all failed."""
    needed = max(1, math.ceil(rule.threshold))
    findings = []
    for account in accounts_watched(rule).values():
        last = list(
            HealthCheck.objects.filter(
                component=HealthComponent.PROVIDER, account=account, checked_at__lte=now
            )
            .order_by("-checked_at", "-id")
            .values_list("ok", "detail")[:needed]
        )
        if len(last) == needed and not any(ok for ok, _ in last):
            findings.append(
                account_finding(
                    account,
                    needed,
                    f"The last {needed} credential checks of {account.name} failed; "
                    f"the latest said: {last[0][1] or '(nothing)'}",
                )
            )
    return findings


def webhook_silence_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """An account handed mail over in the window but no webhook arrived from it in the window.
    Sandbox-mode accounts are skipped: the provider delivers nothing, so it reports nothing."""
    accounts = {
        pk: a
        for pk, a in accounts_watched(rule, kinds=kinds_reporting(*DELIVERY_WEBHOOKS)).items()
        if not a.sandbox_mode
    }
    since, until = window(rule, now)
    sends = dict(
        Attempt.objects.filter(
            account_id__in=accounts, outcome="sent", started_at__gt=since, started_at__lte=until
        )
        .values("account_id")
        .annotate(sent=Count("pk"))
        .values_list("account_id", "sent")
    )
    heard = set(
        WebhookDelivery.objects.filter(
            account_id__in=sends, received_at__gt=since, received_at__lte=until
        ).values_list("account_id", flat=True)
    )
    return [
        account_finding(
            accounts[account_id],
            sent,
            f"{accounts[account_id].name} accepted {sent} emails in the last "
            f"{rule.window_minutes} minutes but no webhook arrived from it: check the provider's "
            "webhook settings and signing key.",
        )
        for account_id, sent in sorted(sends.items())
        if account_id not in heard
    ]


def sync_drift_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """Every template copy at an active account that drifted from its version or failed."""
    syncs = TemplateSync.objects.filter(
        status__in=(SyncStatus.DRIFTED, SyncStatus.FAILED), account__is_active=True
    ).select_related("template", "account")
    if rule.account_id:
        syncs = syncs.filter(account_id=rule.account_id)
    findings = []
    for sync in syncs.order_by("pk"):
        detail = (
            f"Template {sync.template.name} ({sync.template.slug}, {sync.locale}) at "
            f"{sync.account.name}: {sync.get_status_display()}."
        )
        if sync.error:
            detail += f" {sync.error}"
        findings.append(Finding(f"template-sync:{sync.pk}", None, detail, sync.account_id))
    return findings


CONDITIONS = {
    AlertKind.BOUNCE_RATE: bounce_rate_findings,
    AlertKind.FAILED_SENDS: failed_sends_findings,
    AlertKind.CHECK_FAILING: check_failing_findings,
    AlertKind.WEBHOOK_SILENCE: webhook_silence_findings,
    AlertKind.SYNC_DRIFT: sync_drift_findings,
    AlertKind.COMPLAINT_RATE: complaint_rate_findings,
    AlertKind.SENDER_AUTH: sender_auth_findings,
}


# --- notification ----------------------------------------------------------------------------
def alert_notify(*, alert_id: int) -> bool:
    """Email the alert once: claimed with a conditional update, so two evaluations running side
    by side send it once. A failure is recorded (notify_error) and un-claims the alert, so the
    next evaluation retries it. Never raises."""
    claimed = Alert.objects.filter(
        pk=alert_id, resolved_at__isnull=True, notified_at__isnull=True
    ).update(notified_at=timezone.now())
    if not claimed:
        return False
    alert = Alert.objects.select_related("rule__notify_account", "account").get(pk=alert_id)
    try:
        sent, problem = _deliver(alert)  # network: outside any transaction
    except Exception as exc:  # a bug or an unexpected transport error: record, never crash
        logger.error("alert %s: notification crashed: %s", alert_id, type(exc).__name__)
        sent, problem = False, f"{type(exc).__name__}: {exc}"
    problem = scrub_secrets(problem, alert.rule.notify_account)[:2000]
    if not sent:
        Alert.objects.filter(pk=alert_id).update(notified_at=None, notify_error=problem)
        return False
    Alert.objects.filter(pk=alert_id).update(notified_at=timezone.now(), notify_error=problem)
    return True


def _deliver(alert: Alert) -> tuple[bool, str]:
    """Send the alert email: (whether anybody got it, what went wrong)."""
    subject, text, html = _content(alert)
    account = alert.rule.notify_account
    if account is None:
        if not settings.ADMINS:
            return False, "No notify account on the rule and settings.ADMINS is empty."
        mail_admins(subject, text, html_message=html, fail_silently=False)
        return True, ""
    recipients = list(dict.fromkeys(alert.rule.recipients or [])) or it_admin_emails()
    if not recipients:
        return False, "No recipients: set the rule's recipients or the IT admins' emails."
    client = client_for(account)
    failures = []
    for recipient in recipients:
        email = OutgoingEmail(
            to=Address(recipient),
            subject=subject,
            html=html,
            text=text,
            correlation_id=f"alert-{alert.pk}-{uuid.uuid4().hex[:12]}",
            categories=(ALERT_CATEGORY,),
        )
        try:
            client.send(email)
        except Exception as exc:  # ProviderError carries the provider's (scrubbed) words
            failures.append(f"{recipient}: {exc}")
    if len(failures) == len(recipients):
        return False, f"Not sent through {account.name}: " + "; ".join(failures)
    if failures:  # some got it: no retry, it would repeat the email to them; keep the reason
        return True, "Partly sent; failed: " + "; ".join(failures)
    return True, ""


def it_admin_emails() -> list[str]:
    """Active superusers and members of the IT admins group that have an email address."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    emails = users.filter(Q(is_superuser=True) | Q(groups__name=IT_ADMINS)).values_list(
        "email", flat=True
    )
    return sorted(set(emails))


NO_LINK = "Analytics, Alerts (no link: PUBLIC_BASE_URL is not set)"


def _content(alert: Alert) -> tuple[str, str, str]:
    rule = alert.rule
    about = str(alert.account) if alert.account else alert.subject
    subject = f"[Returns Mail alert] {rule.name}: {about}"[:200]
    # Links in an email are absolute, from the configured public base; without one, the way
    # to the page is said in words rather than given as a relative link that leads nowhere.
    link = absolute_url(reverse("admin:analytics_alert_changelist") + "?status=open")
    lines = [
        ("Rule", f"{rule.name} ({rule.get_kind_display()})"),
        ("Subject", about),
        ("Value", "" if alert.value is None else f"{alert.value:g}"),
        ("Threshold", f"{rule.threshold:g}"),
        ("Opened", f"{alert.opened_at:%Y-%m-%d %H:%M:%S %Z}"),
    ]
    footer = (
        "This alert stays open until its condition clears; you will not be emailed about it "
        "again while it is open."
    )
    text = "\n".join(
        [
            alert.detail,
            "",
            *(f"{k}: {v}" for k, v in lines),
            "",
            f"Open alerts: {link or f'in the admin, {NO_LINK}'}",
            footer,
        ]
    )
    rows = "".join(
        f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in lines
    )
    if link:
        where = f"<a href='{escape(link)}'>Open alerts</a>"
    else:
        where = escape(f"Open alerts: in the admin, {NO_LINK}")
    html = (
        f"<p>{escape(alert.detail)}</p><table>{rows}</table><p>{where}</p><p>{escape(footer)}</p>"
    )
    return subject, text, html
