"""Each provider's own suppression lists imported into ours (services/suppression_import.py),
through the sandbox: reasons and scopes as the webhooks give them, page by page, resumed after a
rate limit, incremental, idempotent; on connect (the admin), daily, and by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from providers.models import ProviderAccount
from providers.sandbox.core import Fault
from returns_mail import tasks
from returns_mail.models import (
    ConsentRecord,
    ConsentSource,
    Customer,
    Suppression,
    SuppressionImport,
    SuppressionReason,
    SuppressionScope,
)
from returns_mail.roles import IT_ADMINS
from returns_mail.services.suppression import suppression_add
from tests.conftest import SANDBOX_PREFIX, TEST_KEYS
from tests.providers.test_admin import post_form
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

ALL, PROMO = SuppressionScope.ALL, SuppressionScope.PROMOTIONAL
R = SuppressionReason


def seed(sandbox, kind: str, **body):
    return sandbox.seed_suppressions(SANDBOX_PREFIX[kind], TEST_KEYS[kind], body)


def rows(account=None) -> dict[tuple[str, str], str]:
    found = Suppression.objects.all()
    if account is not None:
        found = found.filter(source_account=account)
    return {(s.email, s.scope): s.reason for s in found}


def test_sendgrid_lists_are_imported_with_the_webhooks_reasons(make_account, esp_sandbox):
    account = make_account("sendgrid")
    seed(esp_sandbox, "sendgrid", list="bounces", emails=["Hard@Example.com"], reason="550 5.1.1")
    seed(esp_sandbox, "sendgrid", list="blocks", emails=["blocked@example.com"])
    seed(esp_sandbox, "sendgrid", list="spam_reports", emails=["spam@example.com"])
    seed(esp_sandbox, "sendgrid", list="unsubscribes", emails=["gone@example.com"])
    seed(esp_sandbox, "sendgrid", list="group", group_id=9, emails=["group@example.com"])

    report = tasks.import_suppressions(account.pk)

    assert rows(account) == {
        ("hard@example.com", ALL): R.HARD_BOUNCE,
        ("spam@example.com", ALL): R.COMPLAINT,
        ("gone@example.com", PROMO): R.UNSUBSCRIBE,
        ("group@example.com", PROMO): R.UNSUBSCRIBE,
    }  # a block is temporary: a webhook's soft bounce, which suppresses nothing
    assert "550 5.1.1" in Suppression.objects.get(email="hard@example.com").note
    assert report["complete"]
    assert report["read"] == 5
    assert report["added"] == 4
    withdrawn = ConsentRecord.objects.filter(granted=False, source=ConsentSource.PROVIDER_IMPORT)
    assert sorted(withdrawn.values_list("email", flat=True)) == [
        "gone@example.com",
        "group@example.com",
    ]
    state = SuppressionImport.objects.get(account=account)
    assert (state.last_read, state.last_added, state.total_added) == (5, 4, 4)
    assert state.last_finished_at is not None
    assert state.complete_since is not None
    assert state.resume == {}
    assert state.error == ""


def test_a_rerun_adds_nothing_and_keeps_what_is_suppressed_already(make_account, esp_sandbox):
    account = make_account("sendgrid")
    suppression_add(email="kept@example.com", reason=R.MANUAL, note="by hand")
    seed(esp_sandbox, "sendgrid", list="bounces", emails=["kept@example.com", "new@example.com"])

    first = tasks.import_suppressions(account.pk)
    SuppressionImport.objects.update(complete_since=None)  # read everything again
    second = tasks.import_suppressions(account.pk)

    assert (first["added"], second["added"]) == (1, 0)
    kept = Suppression.objects.get(email="kept@example.com")
    assert (kept.reason, kept.note, kept.source_account) == (R.MANUAL, "by hand", None)
    assert Suppression.objects.count() == 2
    assert SuppressionImport.objects.get().total_added == 1


def test_a_large_list_is_imported_page_by_page_and_a_rate_limit_resumes_later(
    make_account, esp_sandbox
):
    account = make_account("sendgrid")
    bounced = [f"b{i:04d}@example.com" for i in range(1203)]
    seed(esp_sandbox, "sendgrid", list="bounces", emails=bounced)
    # The third request (the third page of bounces) is refused: wait 30 s.
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("429", times=1, retry_after=30, after=2))

    paused = tasks.import_suppressions(account.pk)

    assert (paused["pages"], paused["added"], paused["complete"]) == (2, 1000, False)
    assert paused["retry_in"] == 30
    assert Suppression.objects.count() == 1000  # what was imported stays
    state = SuppressionImport.objects.get(account=account)
    assert state.resume == {"list": "bounces", "offset": 1000}
    assert state.retry_at is not None
    assert state.running_until is None
    assert "429" in state.error or "too many requests" in state.error
    retry = Schedule.objects.get(func="returns_mail.tasks.import_suppressions")
    assert retry.schedule_type == Schedule.ONCE
    assert retry.args == f"({account.pk},)"
    assert timedelta(seconds=25) < retry.next_run - timezone.now() <= timedelta(seconds=31)

    resumed = tasks.import_suppressions(account.pk)

    assert resumed["complete"]
    assert resumed["read"] == 203
    assert Suppression.objects.count() == 1203
    state.refresh_from_db()
    assert (state.last_read, state.last_added, state.total_added) == (1203, 1203, 1203)
    assert state.resume == {}
    assert state.error == ""
    assert state.retry_at is None


def test_a_later_run_asks_only_for_what_was_listed_since_the_last(make_account, esp_sandbox):
    account = make_account("sendgrid")
    long_ago = int((datetime.now(UTC) - timedelta(days=30)).timestamp())
    seed(esp_sandbox, "sendgrid", list="bounces", emails=["old@example.com"], created=long_ago)
    tasks.import_suppressions(account.pk)
    Suppression.objects.all().delete()  # lifted here since: not imported again by a later run
    seed(esp_sandbox, "sendgrid", list="bounces", emails=["new@example.com"])

    later = tasks.import_suppressions(account.pk)

    assert later["read"] == 1
    assert set(rows()) == {("new@example.com", ALL)}


def test_mandrill_rejects_are_imported_and_a_soft_bounce_is_not(make_account, esp_sandbox):
    account = make_account("mailchimp_transactional")
    for reason in ("hard-bounce", "soft-bounce", "spam", "unsub", "custom"):
        seed(esp_sandbox, "mailchimp_transactional", reason=reason, emails=[f"{reason}@x.com"])
    seed(
        esp_sandbox,
        "mailchimp_transactional",
        reason="hard-bounce",
        emails=["expired@x.com"],
        expired=True,
    )

    report = tasks.import_suppressions(account.pk)

    assert rows(account) == {
        ("hard-bounce@x.com", ALL): R.HARD_BOUNCE,
        ("spam@x.com", ALL): R.COMPLAINT,
        ("unsub@x.com", PROMO): R.UNSUBSCRIBE,
        ("custom@x.com", ALL): R.PROVIDER_DENY_LIST,
    }
    assert report["read"] == 5
    assert report["added"] == 4


def test_audience_members_cleaned_and_unsubscribed_are_imported_over_pages(
    make_account, esp_sandbox
):
    account = make_account("mailchimp_marketing")
    unsubscribed = [f"u{i:04d}@example.com" for i in range(1100)]
    seed(esp_sandbox, "mailchimp_marketing", audience="aud001", status="unsubscribed",
         emails=unsubscribed)  # fmt: skip
    seed(esp_sandbox, "mailchimp_marketing", audience="aud001", status="cleaned",
         emails=["cleaned@example.com"])  # fmt: skip
    seed(esp_sandbox, "mailchimp_marketing", audience="aud001", status="subscribed",
         emails=["fine@example.com"])  # fmt: skip

    report = tasks.import_suppressions(account.pk)

    assert report["pages"] == 3
    assert report["added"] == 1101
    found = rows(account)
    assert found[("cleaned@example.com", ALL)] == R.HARD_BOUNCE
    assert found[("u0000@example.com", PROMO)] == R.UNSUBSCRIBE
    assert ("fine@example.com", ALL) not in found
    assert len(found) == 1101


def test_a_rate_limit_at_mailchimp_pauses_the_import(make_account, esp_sandbox):
    account = make_account("mailchimp_marketing")
    seed(esp_sandbox, "mailchimp_marketing", audience="aud001", status="cleaned",
         emails=["cleaned@example.com"])  # fmt: skip
    key = TEST_KEYS["mailchimp_marketing"]
    esp_sandbox.faults.add(key, Fault("429", times=1, retry_after=12, after=1))

    report = tasks.import_suppressions(account.pk)

    assert (report["added"], report["complete"], report["retry_in"]) == (1, False, 12)
    assert SuppressionImport.objects.get().resume == {"status": "unsubscribed", "offset": 0}


def test_a_permanent_error_is_recorded_and_the_next_run_starts_over(make_account, esp_sandbox):
    account = make_account("sendgrid", api_key="SG.revoked-key-0001")

    report = tasks.import_suppressions(account.pk)

    state = SuppressionImport.objects.get(account=account)
    assert report["error"]
    assert report["retry_in"] is None
    assert state.error
    assert state.resume == {}
    assert state.last_finished_at is None
    assert not Schedule.objects.filter(func="returns_mail.tasks.import_suppressions").exists()


def test_accounts_that_keep_no_lists_or_are_inactive_are_not_imported(make_account, esp_sandbox):
    smtp = make_account("smtp")
    inactive = make_account("sendgrid", is_active=False)

    assert tasks.import_suppressions(smtp.pk)["skipped"]
    assert tasks.import_suppressions(inactive.pk)["skipped"]
    assert not SuppressionImport.objects.exists()


def test_the_daily_schedule_queues_every_importable_account(
    make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    sendgrid = make_account("sendgrid")
    mandrill = make_account("mailchimp_transactional")
    make_account("smtp")
    seed(esp_sandbox, "sendgrid", list="bounces", emails=["a@example.com"])
    seed(esp_sandbox, "mailchimp_transactional", reason="spam", emails=["b@example.com"])
    daily = Schedule.objects.get(func="returns_mail.tasks.import_suppressions_all")
    assert daily.schedule_type == Schedule.DAILY

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.import_suppressions_all() == 2

    assert set(rows(sendgrid)) == {("a@example.com", ALL)}
    assert set(rows(mandrill)) == {("b@example.com", ALL)}


def test_connecting_an_account_in_the_admin_imports_its_lists(
    client, esp_sandbox, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS, "ita")
    seed(esp_sandbox, "sendgrid", list="spam_reports", emails=["spam@example.com"])
    add_url = reverse("admin:providers_provideraccount_add")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(
            client,
            add_url,
            api_base_url=esp_sandbox.base_url("sendgrid"),
            new_api_key=TEST_KEYS["sendgrid"],
        )

    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="SendGrid main")
    assert rows(account) == {("spam@example.com", ALL): R.COMPLAINT}
    page = client.get(reverse("admin:providers_provideraccount_change", args=[account.pk]))
    assert "added 1; 1 added in all" in page.content.decode()


def test_reactivating_an_account_imports_and_an_unchanged_one_does_not(
    client, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS, "ita")
    account = make_account("sendgrid", name="SendGrid main", is_active=False)
    seed(esp_sandbox, "sendgrid", list="unsubscribes", emails=["gone@example.com"])
    change_url = reverse("admin:providers_provideraccount_change", args=[account.pk])
    fields = {"api_base_url": account.api_base_url}

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, change_url, is_active="", **fields).status_code == 302
    assert not Suppression.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, change_url, **fields).status_code == 302
    assert rows(account) == {("gone@example.com", PROMO): R.UNSUBSCRIBE}

    Suppression.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, change_url, from_name="Renamed", **fields).status_code == 302
    assert not Suppression.objects.exists()  # already active: saving is no reconnection

    new_key = "SG.another-key-0002"
    listed_long_ago = {"list": "bounces", "emails": ["b@x.com"], "created": 1_600_000_000}
    esp_sandbox.seed_suppressions("sendgrid", new_key, listed_long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(client, change_url, new_api_key=new_key, **fields)
    assert response.status_code == 302
    # A new key (maybe another SendGrid account): its lists are read whole.
    assert rows(account) == {("b@x.com", ALL): R.HARD_BOUNCE}


def test_the_admin_action_imports_now(
    client, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS, "ita")
    account = make_account("mailchimp_transactional")
    smtp = make_account("smtp")
    seed(esp_sandbox, "mailchimp_transactional", reason="hard-bounce", emails=["h@example.com"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:providers_provideraccount_changelist"),
            {"action": "import_suppressions_now", "_selected_action": [account.pk, smtp.pk]},
            follow=True,
        )

    html = response.content.decode()
    assert f"Suppression import queued for {account.name}" in html
    assert "1 account(s) not imported" in html
    assert rows(account) == {("h@example.com", ALL): R.HARD_BOUNCE}


def test_a_run_out_of_time_queues_its_continuation_from_the_last_page(
    make_account, esp_sandbox, monkeypatch
):
    from returns_mail.services import suppression_import

    account = make_account("sendgrid")
    seed(esp_sandbox, "sendgrid", list="bounces", emails=[f"b{i}@example.com" for i in range(700)])
    monkeypatch.setattr(suppression_import, "RUN_SECONDS", 0)  # one page a task

    first = tasks.import_suppressions(account.pk)  # continuations run inline in tests

    assert first["continued"]
    assert first["pages"] == 1
    assert Suppression.objects.count() == 700
    state = SuppressionImport.objects.get(account=account)
    assert state.last_finished_at is not None
    assert state.resume == {}
    assert state.total_added == 700


def test_a_rate_limit_at_mandrill_pauses_the_import_until_its_delay(make_account, esp_sandbox):
    account = make_account("mailchimp_transactional")
    seed(esp_sandbox, "mailchimp_transactional", reason="spam", emails=["s@example.com"])
    key = TEST_KEYS["mailchimp_transactional"]
    esp_sandbox.faults.add(key, Fault("429", times=1, retry_after=20))

    paused = tasks.import_suppressions(account.pk)

    assert (paused["added"], paused["complete"], paused["retry_in"]) == (0, False, 20)
    assert not Suppression.objects.exists()
    assert tasks.import_suppressions(account.pk)["added"] == 1


def test_imported_customers_lose_their_marketing_consent(make_account, esp_sandbox):
    account = make_account("sendgrid")
    for email in ("gone@example.com", "spam@example.com", "kept@example.com"):
        Customer.objects.create(email=email, marketing_consent=True)
    seed(esp_sandbox, "sendgrid", list="unsubscribes", emails=["gone@example.com"])
    seed(esp_sandbox, "sendgrid", list="spam_reports", emails=["spam@example.com"])

    tasks.import_suppressions(account.pk)

    consenting = Customer.objects.filter(marketing_consent=True).values_list("email", flat=True)
    assert list(consenting) == ["kept@example.com"]
