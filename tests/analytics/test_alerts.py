"""Alert rules: each kind fires on a fixed data set and not below its threshold; one alert per
subject while it fires, one email (through the notify account, or mail_admins), resolution when
it clears, a new alert and email after that; failed notifications recorded and retried; the
admin (rules, read-only alerts with "resolve", health checks) and its open-alerts banner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from analytics.models import (
    Alert,
    AlertKind,
    AlertRule,
    DeliveryEvent,
    HealthCheck,
    HealthComponent,
    WebhookDelivery,
)
from analytics.services import alerts as alert_services
from analytics.services.alerts import Finding, alert_rule_apply, alerts_evaluate
from providers.sandbox.core import Fault
from returns_mail.models import Attempt
from returns_mail.roles import IT_ADMINS, MANAGERS
from templates_lib.models import Layout, SyncStatus, Template, TemplateSync
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

MAIL_SEND = "/v3/mail/send"
CHANGELIST = reverse("admin:analytics_alert_changelist")


# --- helpers ---------------------------------------------------------------------------------
def make_rule(kind: str, **fields) -> AlertRule:
    fields.setdefault("name", f"{kind} rule")
    return AlertRule.objects.create(kind=kind, **fields)


def ago(minutes: float):
    return timezone.now() - timedelta(minutes=minutes)


def delivery_event(account, type_: str, *, minutes_ago: float = 5, bounce_kind: str = ""):
    delivery = WebhookDelivery.objects.create(account=account, body="[]")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=ago(minutes_ago))
    return DeliveryEvent.objects.create(
        fingerprint=uuid.uuid4().hex,
        delivery=delivery,
        account=account,
        type=type_,
        provider_event=type_,
        bounce_kind=bounce_kind,
        recipient="customer@example.com",
        occurred_at=ago(minutes_ago),
    )


def outcomes(account, *, delivered=0, hard=0, soft=0, rejected=0, minutes_ago=5):
    for _ in range(delivered):
        delivery_event(account, "delivered", minutes_ago=minutes_ago)
    for _ in range(hard):
        delivery_event(account, "bounced", bounce_kind="hard", minutes_ago=minutes_ago)
    for _ in range(soft):
        delivery_event(account, "bounced", bounce_kind="soft", minutes_ago=minutes_ago)
    for _ in range(rejected):
        delivery_event(account, "rejected", minutes_ago=minutes_ago)


def health(account, *oks: bool):
    """Credential checks, oldest first, a minute apart, the last one a minute ago."""
    for n, ok in enumerate(oks):
        HealthCheck.objects.create(
            component=HealthComponent.PROVIDER,
            account=account,
            checked_at=ago(len(oks) - n),
            ok=ok,
            detail="ok" if ok else "HTTP 503: service unavailable",
        )


def sent_attempt(make_message, account, *, minutes_ago=10, outcome="sent"):
    message = make_message(account=account)
    return Attempt.objects.create(
        message=message,
        account=account,
        started_at=ago(minutes_ago),
        duration_ms=12.5,
        outcome=outcome,
    )


def firing(rule) -> list[tuple[str, float | None]]:
    return sorted(
        (a.subject, a.value) for a in Alert.objects.filter(rule=rule, resolved_at__isnull=True)
    )


def user(username: str, *, role: str | None = None, **fields):
    made = get_user_model().objects.create_user(
        username, fields.pop("email", f"{username}@shop.example"), "pw-for-tests-1", **fields
    )
    if role:
        made.groups.add(Group.objects.get(name=role))
    return made


@pytest.fixture
def notifier(make_account):
    return make_account("sendgrid", name="Alerts sender")


@pytest.fixture
def watched(make_account):
    return make_account("sendgrid", name="SendGrid main")


# --- bounce rate -----------------------------------------------------------------------------
def test_bounce_rate_fires_per_account_above_threshold_with_enough_volume(make_account):
    fires = make_account("sendgrid", name="bouncy")
    at_threshold = make_account("sendgrid", name="at threshold")
    too_few = make_account("mailchimp_transactional", name="too few")
    outcomes(fires, delivered=16, hard=2, soft=1, rejected=1)  # 3 of 20: 15%
    outcomes(fires, hard=10, minutes_ago=61)  # outside the window
    delivery_event(fires, "opened")  # not an outcome
    outcomes(at_threshold, delivered=19, hard=1)  # 1 of 20: 5%, not over 5
    outcomes(too_few, delivered=10, hard=9)  # 47%, but 19 outcomes < 20
    rule = make_rule(AlertKind.BOUNCE_RATE, threshold=5, window_minutes=60, min_volume=20)

    alerts_evaluate()

    assert firing(rule) == [(str(fires.pk), 15.0)]
    alert = Alert.objects.get()
    assert alert.account == fires
    assert alert.detail == (
        "Bounce rate 15% (3 of 20 outcomes) in the last 60 minutes at bouncy; threshold 5%."
    )


def test_a_rule_for_one_account_watches_only_that_account(make_account):
    one, other = make_account("sendgrid"), make_account("sendgrid")
    outcomes(one, delivered=10, hard=10)
    outcomes(other, delivered=10, hard=10)
    rule = make_rule(AlertKind.BOUNCE_RATE, account=other, threshold=5, min_volume=20)

    alerts_evaluate()

    assert firing(rule) == [(str(other.pk), 50.0)]


# --- failed sends ----------------------------------------------------------------------------
def test_failed_sends_fire_over_threshold_in_the_window(make_account, make_message):
    busy, quiet = make_account("sendgrid"), make_account("mailchimp_transactional")
    for _ in range(3):
        make_message(account=busy, status="failed", changed_at=ago(5))
    make_message(account=busy, status="failed", changed_at=ago(15))  # before the window
    make_message(account=busy, status="sent", changed_at=ago(1))
    for _ in range(2):
        make_message(account=quiet, status="failed", changed_at=ago(5))  # 2: not over 2
    rule = make_rule(AlertKind.FAILED_SENDS, threshold=2, window_minutes=10)

    alerts_evaluate()

    assert firing(rule) == [(str(busy.pk), 3.0)]
    assert Alert.objects.get().detail == (
        f"3 sends failed at {busy.name} in the last 10 minutes; threshold 2."
    )


def test_failures_that_never_reached_an_account_alert_under_their_own_subject(make_message):
    for _ in range(2):
        make_message(account=None, status="failed", changed_at=ago(1))
    every_account = make_rule(AlertKind.FAILED_SENDS, name="all", threshold=1, window_minutes=10)

    alerts_evaluate()

    assert firing(every_account) == [("no-account", 2.0)]
    assert Alert.objects.get().account is None


# --- credential checks -----------------------------------------------------------------------
def test_check_failing_fires_after_threshold_failures_in_a_row(make_account):
    down = make_account("sendgrid", name="down")
    flapping = make_account("sendgrid", name="flapping")
    health(down, True, False, False, False)
    health(flapping, False, False, True, False, False)  # only 2 in a row
    rule = make_rule(AlertKind.CHECK_FAILING, threshold=3)

    alerts_evaluate()

    assert firing(rule) == [(str(down.pk), 3.0)]
    assert Alert.objects.get().detail == (
        "The last 3 credential checks of down failed; the latest said: "
        "HTTP 503: service unavailable"
    )


def test_check_failing_needs_that_many_checks(make_account):
    new = make_account("sendgrid")
    health(new, False, False)
    rule = make_rule(AlertKind.CHECK_FAILING, threshold=3)

    alerts_evaluate()

    assert firing(rule) == []


def test_sandbox_faults_raise_a_check_failing_alert_end_to_end(
    make_account, esp_sandbox, django_capture_on_commit_callbacks, notifier
):
    """The demo's promise: turn on faults for one account and an alert follows."""
    faulty = make_account("mailchimp_transactional", name="Mandrill")
    esp_sandbox.faults.add(TEST_KEYS["mailchimp_transactional"], Fault("500"))
    rule = make_rule(
        AlertKind.CHECK_FAILING,
        threshold=2,
        notify_account=notifier,
        recipients=["it@shop.example"],
    )
    from analytics.services.health import health_checks_run

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            health_checks_run()
        alerts_evaluate()

    assert firing(rule) == [(str(faulty.pk), 2.0)]
    [sent] = esp_sandbox.records("sendgrid", path=MAIL_SEND)
    assert sent["body"]["subject"] == f"[Returns Mail alert] check_failing rule: {faulty}"


# --- webhook silence -------------------------------------------------------------------------
def test_webhook_silence_fires_for_an_account_that_sent_but_heard_nothing(
    make_account, make_message
):
    silent = make_account("sendgrid", name="silent")
    heard = make_account("mailchimp_transactional", name="heard")
    smtp = make_account("smtp", name="smtp relay")
    sandboxed = make_account("sendgrid", name="sandboxed", sandbox_mode=True)
    idle = make_account("sendgrid", name="idle")
    for account in (silent, silent, heard, smtp, sandboxed):
        sent_attempt(make_message, account, minutes_ago=30)
    sent_attempt(make_message, idle, minutes_ago=90)  # before the window
    sent_attempt(make_message, idle, minutes_ago=5, outcome="transient")  # not handed over
    delivery_event(heard, "delivered", minutes_ago=20)
    delivery_event(silent, "delivered", minutes_ago=70)  # before the window
    rule = make_rule(AlertKind.WEBHOOK_SILENCE, window_minutes=60)

    alerts_evaluate()

    assert firing(rule) == [(str(silent.pk), 2.0)]
    assert Alert.objects.get().detail.startswith(
        "silent accepted 2 emails in the last 60 minutes but no webhook arrived from it"
    )


# --- template sync drift ---------------------------------------------------------------------
def test_sync_drift_fires_per_drifted_or_failed_copy(make_account):
    account = make_account("sendgrid", name="SG")
    inactive = make_account("sendgrid", name="old", is_active=False)
    layout = Layout.objects.create(name="brand", html="{{body}}", brand_name="Shop")
    template = Template.objects.create(
        name="Refund", slug="refund", layout=layout, subject="Hi", html="<p>Hi</p>"
    )

    def sync(account, locale, status, error=""):
        return TemplateSync.objects.create(
            template=template, account=account, locale=locale, status=status, error=error
        )

    drifted = sync(account, "en", SyncStatus.DRIFTED)
    failed = sync(account, "de", SyncStatus.FAILED, error="HTTP 400: bad html")
    sync(account, "fr", SyncStatus.CURRENT)
    sync(inactive, "en", SyncStatus.DRIFTED)
    rule = make_rule(AlertKind.SYNC_DRIFT)

    alerts_evaluate()

    assert firing(rule) == [
        (f"template-sync:{drifted.pk}", None),
        (f"template-sync:{failed.pk}", None),
    ]
    assert Alert.objects.get(subject=f"template-sync:{failed.pk}").detail == (
        "Template Refund (refund, de) at SG: Failed. HTTP 400: bad html"
    )
    TemplateSync.objects.filter(pk=drifted.pk).update(status=SyncStatus.CURRENT)

    alerts_evaluate()

    assert firing(rule) == [(f"template-sync:{failed.pk}", None)]


# --- lifecycle and notification --------------------------------------------------------------
def test_fire_notify_once_resolve_and_fire_again(make_account, make_message, esp_sandbox, notifier):
    account = make_account("sendgrid", name="Busy")
    rule = make_rule(
        AlertKind.FAILED_SENDS,
        name="Failed sends",
        threshold=1,
        window_minutes=10,
        notify_account=notifier,
        recipients=["it@shop.example", "oncall@shop.example"],
    )
    for _ in range(2):
        make_message(account=account, status="failed", changed_at=ago(2))

    assert alerts_evaluate() == {"opened": 1, "notified": 1}

    alert = Alert.objects.get()
    assert (alert.subject, alert.account, alert.value) == (str(account.pk), account, 2.0)
    assert alert.notified_at is not None
    assert alert.notify_error == ""
    mails = esp_sandbox.records("sendgrid", path=MAIL_SEND)
    assert [m["body"]["personalizations"][0]["to"] for m in mails] == [
        [{"email": "it@shop.example"}],
        [{"email": "oncall@shop.example"}],
    ]
    body = mails[0]["body"]
    assert body["subject"] == "[Returns Mail alert] Failed sends: Busy (SendGrid)"
    assert body["from"] == {"email": "returns@shop.example", "name": "Shop Returns"}
    assert body["categories"] == ["returns-mail-alert"]
    text = body["content"][0]["value"]
    assert text.startswith("2 sends failed at Busy in the last 10 minutes; threshold 1.\n")
    assert "Value: 2\nThreshold: 1\n" in text
    assert "Open alerts: in the admin, Analytics, Alerts (no link: PUBLIC_BASE_URL" in text
    assert "href" not in body["content"][1]["value"]  # no relative link that leads nowhere
    assert mails[0]["key"] == f"...{TEST_KEYS['sendgrid'][-4:]}"  # a hint, never the key

    # Still firing, one more failure: the same alert, refreshed, no second email.
    make_message(account=account, status="failed", changed_at=ago(1))
    assert alerts_evaluate() == {"firing": 1}
    alert_again = Alert.objects.get()
    assert alert_again.pk == alert.pk
    assert alert_again.value == 3.0
    assert alert_again.last_seen_at > alert.last_seen_at
    assert len(esp_sandbox.records("sendgrid", path=MAIL_SEND)) == 2

    # The failures leave the window: resolved, and nothing is sent.
    later = timezone.now() + timedelta(minutes=15)
    assert alerts_evaluate(now=later) == {"resolved": 1}
    assert Alert.objects.get().resolved_at == later
    assert len(esp_sandbox.records("sendgrid", path=MAIL_SEND)) == 2

    # Firing again after resolution: a new alert, and a new email.
    for _ in range(2):
        make_message(account=account, status="failed", changed_at=later)
    assert alerts_evaluate(now=later + timedelta(minutes=1)) == {"opened": 1, "notified": 1}
    assert Alert.objects.count() == 2
    assert firing(rule) == [(str(account.pk), 2.0)]
    assert len(esp_sandbox.records("sendgrid", path=MAIL_SEND)) == 4


def test_the_alert_email_links_to_the_open_alerts_on_the_public_base_url(
    make_account, make_message, esp_sandbox, notifier, settings
):
    settings.PUBLIC_BASE_URL = "https://mail.shop.example/"
    account = make_account("sendgrid", name="Busy")
    make_rule(
        AlertKind.FAILED_SENDS,
        threshold=1,
        window_minutes=10,
        notify_account=notifier,
        recipients=["it@shop.example"],
    )
    for _ in range(2):
        make_message(account=account, status="failed", changed_at=ago(2))

    assert alerts_evaluate() == {"opened": 1, "notified": 1}

    [mail] = esp_sandbox.records("sendgrid", path=MAIL_SEND)
    text, html = (part["value"] for part in mail["body"]["content"])
    link = "https://mail.shop.example/admin/analytics/alert/?status=open"
    assert f"Open alerts: {link}\n" in text
    assert f"<a href='{link}'>Open alerts</a>" in html
    assert "href='/" not in html


def test_without_a_notify_account_the_alert_goes_to_mail_admins(make_account, settings, mailoutbox):
    settings.ADMINS = [("IT desk", "it-desk@shop.example")]
    account = make_account("sendgrid", name="Down")
    health(account, False, False, False)
    make_rule(AlertKind.CHECK_FAILING, name="Checks", threshold=3)

    alerts_evaluate()
    alerts_evaluate()  # still open: no second email

    [mail] = mailoutbox
    assert mail.to == ["it-desk@shop.example"]
    assert mail.subject.endswith("[Returns Mail alert] Checks: Down (SendGrid)")
    assert mail.body.startswith("The last 3 credential checks of Down failed")
    [(html, mimetype)] = mail.alternatives
    assert mimetype == "text/html"
    assert "<table>" in html
    assert Alert.objects.get().notified_at is not None


def test_without_notify_account_and_admins_the_failure_is_recorded(make_account, settings):
    settings.ADMINS = []
    account = make_account("sendgrid")
    health(account, False)
    make_rule(AlertKind.CHECK_FAILING, threshold=1)

    assert alerts_evaluate() == {"opened": 1, "notify_failed": 1}

    alert = Alert.objects.get()
    assert alert.notified_at is None
    assert alert.notify_error == "No notify account on the rule and settings.ADMINS is empty."


def test_empty_recipients_mean_the_it_admins(make_account, esp_sandbox, notifier):
    user("ita", role=IT_ADMINS, is_staff=True)
    user("root", is_superuser=True, is_staff=True)
    user("gone", role=IT_ADMINS, is_active=False)
    user("noemail", role=IT_ADMINS, email="")
    user("manager", role=MANAGERS, is_staff=True)
    account = make_account("sendgrid")
    health(account, False)
    make_rule(AlertKind.CHECK_FAILING, threshold=1, notify_account=notifier)

    alerts_evaluate()

    assert sorted(
        m["body"]["personalizations"][0]["to"][0]["email"]
        for m in esp_sandbox.records("sendgrid", path=MAIL_SEND)
    ) == ["ita@shop.example", "root@shop.example"]


def test_a_failed_notification_is_recorded_and_retried(make_account, esp_sandbox, notifier):
    account = make_account("mailchimp_transactional", name="Mandrill")
    health(account, False, False)
    make_rule(
        AlertKind.CHECK_FAILING,
        threshold=2,
        notify_account=notifier,
        recipients=["it@shop.example"],
    )
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", times=1))

    assert alerts_evaluate() == {"opened": 1, "notify_failed": 1}

    alert = Alert.objects.get()
    assert alert.notified_at is None
    assert alert.notify_error.startswith("Not sent through Alerts sender: it@shop.example:")
    assert "HTTP 503" in alert.notify_error
    assert TEST_KEYS["sendgrid"] not in alert.notify_error
    assert esp_sandbox.records("sendgrid", path=MAIL_SEND) == []

    assert alerts_evaluate() == {"firing": 1, "notified": 1}

    alert.refresh_from_db()
    assert (alert.notified_at is not None, alert.notify_error) == (True, "")
    [mail] = esp_sandbox.records("sendgrid", path=MAIL_SEND)
    assert mail["body"]["personalizations"][0]["to"] == [{"email": "it@shop.example"}]


def test_a_partly_sent_notification_is_not_repeated_to_those_who_got_it(
    make_account, esp_sandbox, notifier
):
    account = make_account("sendgrid")
    health(account, False)
    make_rule(
        AlertKind.CHECK_FAILING,
        threshold=1,
        notify_account=notifier,
        recipients=["first@shop.example", "second@shop.example"],
    )
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", times=1))  # the first send

    assert alerts_evaluate() == {"opened": 1, "notified": 1}
    assert alerts_evaluate() == {"firing": 1}

    alert = Alert.objects.get()
    assert alert.notified_at is not None
    assert alert.notify_error.startswith("Partly sent; failed: first@shop.example: ")
    [mail] = esp_sandbox.records("sendgrid", path=MAIL_SEND)
    assert mail["body"]["personalizations"][0]["to"] == [{"email": "second@shop.example"}]


def test_a_crashing_notification_never_stops_the_evaluation(
    make_account, esp_sandbox, notifier, monkeypatch
):
    account = make_account("sendgrid")
    health(account, False)
    first = make_rule(
        AlertKind.CHECK_FAILING,
        name="a",
        threshold=1,
        notify_account=notifier,
        recipients=["it@shop.example"],
    )
    second = make_rule(
        AlertKind.CHECK_FAILING,
        name="b",
        threshold=1,
        notify_account=notifier,
        recipients=["it@shop.example"],
    )

    def broken(alert):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(alert_services, "_content", broken)

    assert alerts_evaluate() == {"opened": 2, "notify_failed": 2}

    assert firing(first) == firing(second) == [(str(account.pk), 1.0)]
    assert set(Alert.objects.values_list("notify_error", flat=True)) == {
        "RuntimeError: template exploded"
    }


def test_a_broken_rule_never_stops_the_others(make_account, monkeypatch):
    account = make_account("sendgrid")
    health(account, False)
    make_rule(AlertKind.BOUNCE_RATE, name="broken")
    working = make_rule(AlertKind.CHECK_FAILING, name="working", threshold=1)

    def explode(rule, now):
        raise RuntimeError("bad query")

    monkeypatch.setitem(alert_services.CONDITIONS, AlertKind.BOUNCE_RATE, explode)

    summary = alerts_evaluate()

    assert summary["errors"] == 1
    assert firing(working) == [(str(account.pk), 1.0)]


def test_only_one_open_alert_per_rule_and_subject_even_in_a_race(make_account, monkeypatch):
    account = make_account("sendgrid")
    rule = make_rule(AlertKind.CHECK_FAILING, threshold=1)
    existing = Alert.objects.create(
        rule=rule, subject=str(account.pk), account=account, last_seen_at=ago(1), value=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=rule, subject=str(account.pk), last_seen_at=ago(0))
    # Another evaluation opened it between our read and our insert.
    monkeypatch.setattr(alert_services, "open_subjects", lambda rule: set())
    now = timezone.now()

    counts = alert_rule_apply(
        rule=rule, findings=[Finding(str(account.pk), 4, "again", account.pk)], now=now
    )

    assert dict(counts) == {"firing": 1}
    existing.refresh_from_db()
    assert (existing.value, existing.detail, existing.last_seen_at) == (4, "again", now)
    assert Alert.objects.count() == 1


def test_disabling_a_rule_resolves_its_alerts(make_account):
    account = make_account("sendgrid")
    health(account, False)
    rule = make_rule(AlertKind.CHECK_FAILING, threshold=1)
    alerts_evaluate()
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)

    assert alerts_evaluate() == {"resolved": 1}
    assert firing(rule) == []


# --- admin -----------------------------------------------------------------------------------
@pytest.fixture
def it_admin(client):
    admin_user = user("ita", role=IT_ADMINS, is_staff=True)
    client.force_login(admin_user)
    return admin_user


def open_alert(account=None, **fields) -> Alert:
    rule = AlertRule.objects.get_or_create(name="Checks", kind=AlertKind.CHECK_FAILING)[0]
    fields.setdefault("subject", str(account.pk) if account else "x")
    return Alert.objects.create(
        rule=rule, account=account, last_seen_at=timezone.now(), detail="down", **fields
    )


def test_the_banner_shows_open_alerts_to_it_admins_on_every_admin_page(client, it_admin):
    open_alert(subject="a")
    open_alert(subject="b")
    open_alert(subject="c", resolved_at=timezone.now())

    for url in ("/admin/", reverse("admin:providers_provideraccount_changelist")):
        page = client.get(url).content.decode()
        assert '<li class="warning">2 alerts are open. ' in page
        assert f'<a href="{CHANGELIST}?status=open">Show open alerts</a>' in page


def test_no_banner_without_open_alerts_or_permission(client, it_admin):
    assert "alerts are open" not in client.get("/admin/").content.decode()
    assert "alert is open" not in client.get("/admin/").content.decode()
    open_alert()
    client.force_login(user("plainstaff", is_staff=True))

    assert "alert is open" not in client.get("/admin/").content.decode()


def test_the_banner_keeps_the_pages_own_messages(client, it_admin):
    first = open_alert(subject="a")
    open_alert(subject="b")

    response = client.post(
        CHANGELIST, {"action": "resolve", "_selected_action": [first.pk]}, follow=True
    )

    page = response.content.decode()
    assert '<li class="success">1 alert resolved.</li>' in page
    assert '<li class="warning">1 alert is open. ' in page
    first.refresh_from_db()
    assert first.resolved_at is not None


def test_alerts_are_read_only_and_filter_open_and_resolved(client, it_admin, make_account):
    account = make_account("sendgrid", name="Primary")
    still_open = open_alert(account)
    open_alert(subject="old", resolved_at=timezone.now())

    open_page = client.get(CHANGELIST, {"status": "open"})
    resolved_page = client.get(CHANGELIST, {"status": "resolved"})
    change_page = client.get(reverse("admin:analytics_alert_change", args=[still_open.pk]))

    assert [a.pk for a in open_page.context["cl"].result_list] == [still_open.pk]
    assert [a.subject for a in resolved_page.context["cl"].result_list] == ["old"]
    # The state in words: an open alert has no green check mark (nor any yes/no icon).
    assert '<td class="field-state">Open</td>' in open_page.content.decode()
    assert '<td class="field-state">Resolved</td>' in resolved_page.content.decode()
    assert "icon-yes.svg" not in open_page.content.decode()
    assert change_page.status_code == 200
    assert b'name="detail"' not in change_page.content  # shown, not editable
    assert client.get(reverse("admin:analytics_alert_add")).status_code == 403


def test_it_admins_edit_rules_with_recipients_one_a_line(client, it_admin, make_account):
    notify = make_account("sendgrid", name="Notify")
    data = {
        "name": "Bounces",
        "kind": "bounce_rate",
        "enabled": "on",
        "threshold": "5",
        "window_minutes": "60",
        "min_volume": "20",
        "notify_account": str(notify.pk),
        "recipients": "it@shop.example\n oncall@shop.example, it@shop.example",
    }

    response = client.post(reverse("admin:analytics_alertrule_add"), data)

    assert response.status_code == 302
    rule = AlertRule.objects.get(name="Bounces")
    assert rule.recipients == ["it@shop.example", "oncall@shop.example"]
    assert rule.notify_account == notify
    page = client.get(reverse("admin:analytics_alertrule_change", args=[rule.pk]))
    assert "it@shop.example\noncall@shop.example</textarea>" in page.content.decode()


def test_bad_rule_input_is_a_form_error_and_saves_nothing(client, it_admin, make_account):
    marketing = make_account("mailchimp_marketing")
    data = {
        "name": "Bad",
        "kind": "bounce_rate",
        "threshold": "150",
        "window_minutes": "60",
        "min_volume": "20",
        "notify_account": str(marketing.pk),
        "recipients": "not-an-address",
    }

    response = client.post(reverse("admin:analytics_alertrule_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["recipients"] == ["Not an email address: not-an-address."]
    assert errors["threshold"] == ["A rate threshold is a percentage (0 to 100)."]
    assert "notify_account" in errors
    assert not AlertRule.objects.filter(name="Bad").exists()


@pytest.mark.parametrize(
    ("kind", "accepted"),
    [
        ("sendgrid", True),
        ("mailchimp_transactional", True),
        ("mailchimp_marketing", False),
        ("smtp", False),
    ],
)
def test_webhook_silence_is_watched_only_on_accounts_whose_provider_posts_delivery_webhooks(
    client, it_admin, make_account, kind, accepted
):
    account = make_account(kind)
    data = {
        "name": "Silence",
        "kind": "webhook_silence",
        "account": str(account.pk),
        "threshold": "0",
        "window_minutes": "60",
        "min_volume": "1",
    }

    response = client.post(reverse("admin:analytics_alertrule_add"), data)

    if accepted:
        assert response.status_code == 302
        assert AlertRule.objects.get(name="Silence").account == account
    else:
        assert response.context["adminform"].form.errors == {
            "account": ["This account's provider sends no delivery webhooks."]
        }
        assert not AlertRule.objects.filter(name="Silence").exists()


def test_health_checks_are_listed_read_only_and_filter_by_ok(client, it_admin, make_account):
    account = make_account("sendgrid")
    health(account, True, False)

    failed = client.get(reverse("admin:analytics_healthcheck_changelist"), {"ok__exact": "0"})

    assert [c.ok for c in failed.context["cl"].result_list] == [False]
    assert client.get(reverse("admin:analytics_healthcheck_add")).status_code == 403
