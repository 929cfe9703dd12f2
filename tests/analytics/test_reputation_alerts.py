"""Alerts on the sender's reputation: a sender-authentication check that starts failing (opened
once, emailed once, resolved when it passes again) and the spam-complaint rate over its
threshold (0.1 % by default in the demo: Gmail's advice)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Alert, AlertKind, AlertRule, Period
from analytics.services.alerts import alerts_evaluate
from providers.sandbox.dns import TIMEOUT
from providers.services.sender_auth import sender_auth_check
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

PUBLISHED = {
    "shop.example": {"TXT": ["v=spf1 a -all"]},
    "_dmarc.shop.example": {"TXT": ["v=DMARC1; p=reject"]},
}


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("IT", "it@shop.example")]


def open_alerts(rule) -> list[tuple[str, int | None]]:
    return sorted(
        (a.subject, a.account_id) for a in Alert.objects.filter(rule=rule, resolved_at=None)
    )


def test_a_check_that_starts_failing_alerts_once_and_resolves_when_it_passes(
    make_account, dns_zone, admins, mailoutbox
):
    account = make_account("smtp")  # an unknown relay: SPF present and DMARC are what count
    # The rule every installation starts with (a data migration), not one made for the test.
    rule = AlertRule.objects.get(kind=AlertKind.SENDER_AUTH)
    dns_zone.set_zone(PUBLISHED)
    sender_auth_check(account_id=account.pk)

    alerts_evaluate()
    assert open_alerts(rule) == []

    # DMARC disappears: pass -> fail.
    dns_zone.set_zone({"shop.example": {"TXT": ["v=spf1 a -all"]}})
    sender_auth_check(account_id=account.pk)
    alerts_evaluate()

    assert open_alerts(rule) == [(f"sender-auth:{account.pk}:dmarc", account.pk)]
    [email] = mailoutbox
    assert "DMARC policy of shop.example" in email.body
    assert "Publish: TXT _dmarc.shop.example v=DMARC1; p=none" in email.body

    # The next day's check still fails: the same alert, no second email.
    sender_auth_check(account_id=account.pk)
    alerts_evaluate()
    alerts_evaluate()
    assert Alert.objects.filter(rule=rule).count() == 1
    assert len(mailoutbox) == 1

    # A DNS timeout says nothing about the record: the alert stays open, still no email.
    dns_zone.set_zone({"shop.example": {"TXT": ["v=spf1 a -all"]}, "_dmarc.shop.example": TIMEOUT})
    sender_auth_check(account_id=account.pk)
    alerts_evaluate()
    assert open_alerts(rule) == [(f"sender-auth:{account.pk}:dmarc", account.pk)]
    assert len(mailoutbox) == 1

    # Published again: resolved.
    dns_zone.set_zone(PUBLISHED)
    sender_auth_check(account_id=account.pk)
    alerts_evaluate()
    assert open_alerts(rule) == []
    assert Alert.objects.get(rule=rule).resolved_at is not None


def test_could_not_check_never_opens_an_alert(make_account, dns_zone):
    account = make_account("smtp")
    rule = AlertRule.objects.create(name="Sender auth", kind=AlertKind.SENDER_AUTH)
    dns_zone.set_zone({"shop.example": TIMEOUT, "_dmarc.shop.example": TIMEOUT})
    sender_auth_check(account_id=account.pk)

    alerts_evaluate()

    assert open_alerts(rule) == []


def test_each_failing_check_of_each_account_is_its_own_alert(make_account, dns_zone):
    first, second = make_account("smtp"), make_account("smtp", from_email="news@other.example")
    rule = AlertRule.objects.create(name="Sender auth", kind=AlertKind.SENDER_AUTH)
    dns_zone.set_zone(PUBLISHED)  # other.example publishes nothing
    sender_auth_check(account_id=first.pk)
    sender_auth_check(account_id=second.pk)

    alerts_evaluate()

    assert open_alerts(rule) == [
        (f"sender-auth:{second.pk}:dmarc", second.pk),
        (f"sender-auth:{second.pk}:spf", second.pk),
    ]


def hour_now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def test_complaint_rate_fires_over_the_threshold_with_enough_delivered(make_account):
    over = make_account("sendgrid", name="Over")
    under = make_account("sendgrid", name="Under")
    small = make_account("sendgrid", name="Small")
    inferred = make_account("mailchimp_transactional", name="Mandrill")
    rule = AlertRule.objects.create(
        name="Spam", kind=AlertKind.COMPLAINT_RATE, threshold=0.1, window_minutes=1440
    )
    bucket = hour_now()
    f.rollup(bucket, account=over, sent=2000, delivered=2000, complained=3)  # 0.15 %
    f.rollup(bucket, account=under, sent=2000, delivered=2000, complained=2)  # 0.1 %: not over
    f.rollup(bucket, account=small, sent=10, delivered=10, complained=5)  # under min_volume
    # Mandrill reports no deliveries: sent less bounces counts as delivered (1000 - 0).
    f.rollup(bucket, account=inferred, sent=1000, complained=2)  # 0.2 %
    # Mail sent before the window does not count.
    f.rollup(bucket - timedelta(days=2), account=under, sent=100, delivered=100, complained=50)

    alerts_evaluate()

    alerts = {a.account_id: a for a in Alert.objects.filter(rule=rule, resolved_at=None)}
    assert set(alerts) == {over.pk, inferred.pk}
    assert alerts[over.pk].value == 0.15
    assert alerts[over.pk].detail.startswith(
        "Spam-complaint rate 0.15% (3 complaints of 2000 delivered) of the mail Over sent"
    )
    assert alerts[inferred.pk].value == 0.2


def test_complaint_rate_uses_hourly_rollups_not_daily(make_account):
    account = make_account("sendgrid")
    rule = AlertRule.objects.create(name="Spam", kind=AlertKind.COMPLAINT_RATE, threshold=0.1)
    f.rollup(hour_now(), period=Period.DAY, account=account, sent=100, delivered=100, complained=9)

    alerts_evaluate()

    assert open_alerts(rule) == []


def test_every_installation_starts_with_the_bulk_sender_alert_rules():
    complaints = AlertRule.objects.get(kind=AlertKind.COMPLAINT_RATE)
    assert (complaints.threshold, complaints.window_minutes, complaints.enabled) == (
        0.1,
        1440,
        True,
    )
    assert complaints.min_volume == 1000
    assert AlertRule.objects.get(kind=AlertKind.SENDER_AUTH).enabled
