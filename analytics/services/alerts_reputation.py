"""Alert conditions on the sender's reputation with the mailbox providers: the spam-complaint
rate (complaints / delivered, as Gmail and Yahoo count it) and the sender-authentication
checklist (SPF, DKIM, DMARC, the provider's domain status) of each account."""

from __future__ import annotations

from datetime import datetime

from analytics.models import AlertRule
from analytics.selectors.complaints import spam_rates
from analytics.selectors.filters import MetricFilters
from analytics.services.alert_findings import (
    Finding,
    account_finding,
    accounts_watched,
    open_subjects,
    window,
)
from providers.models import SenderAuthResult, SenderAuthState


def complaint_rate_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """Complaints / delivered of the mail sent in the window (hourly rollups, so Mandrill's
    inferred deliveries count too), with at least min_volume delivered, above `threshold`
    percent (Gmail asks for under 0.1 %, and never 0.3 %)."""
    accounts = accounts_watched(rule)
    since, until = window(rule, now)
    # Rollups are per hour sent: the hour the window starts in counts whole.
    since = since.replace(minute=0, second=0, microsecond=0)
    per_account, _ = spam_rates(MetricFilters(start=since, end=until))
    findings = []
    for row in per_account:
        account = accounts.get(row.key)
        delivered = row.counts.delivered
        if account is None or delivered < max(rule.min_volume, 1):
            continue
        rate = round(100 * row.counts.complained / delivered, 3)
        if rate > rule.threshold:
            findings.append(
                account_finding(
                    account,
                    rate,
                    f"Spam-complaint rate {rate:g}% ({row.counts.complained} complaints of "
                    f"{delivered} delivered) of the mail {account.name} sent in the last "
                    f"{rule.window_minutes} minutes; threshold {rule.threshold:g}% (Gmail and "
                    "Yahoo: never 0.3%).",
                )
            )
    return findings


def sender_auth_subject(account_id: int, key: str) -> str:
    return f"sender-auth:{account_id}:{key}"


def sender_auth_findings(rule: AlertRule, now: datetime) -> list[Finding]:
    """Each check (SPF, DKIM, DMARC, the provider's status) of an account's latest checklist
    that fails: one alert per account and check, opened when it starts failing and resolved
    when it passes again. A check that could not be made keeps an open alert open (the DNS
    timing out says nothing about the record)."""
    accounts = accounts_watched(rule)
    already = open_subjects(rule)
    findings = []
    results = SenderAuthResult.objects.filter(account_id__in=accounts).order_by("account_id")
    for result in results:
        account = accounts[result.account_id]
        for item in result.items:
            subject = sender_auth_subject(account.pk, item["key"])
            failing = item["state"] == SenderAuthState.FAIL
            if failing or (item["state"] == SenderAuthState.UNKNOWN and subject in already):
                detail = (
                    f"{item['label']} of {result.domain} ({account.name}) "
                    f"{'fails' if failing else 'could not be checked again'}: {item['found']}"
                )
                if item.get("publish"):
                    records = "; ".join(
                        f"{r['type']} {r['host']} {r['value']}" for r in item["publish"]
                    )
                    detail += f" Publish: {records}"
                findings.append(Finding(subject, None, detail[:2000], account.pk))
    return findings
