"""Publishing pushes each version to every account that stores templates; drift is detected."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from providers.sandbox.core import Fault
from templates_lib.models import Layout, SyncStatus, TemplateSync
from templates_lib.rendering import provider_content
from templates_lib.services.sync import template_sync_check, template_sync_push, template_sync_sweep
from templates_lib.services.templates import template_publish, template_version_create
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(make_account):
    return {
        "sendgrid": make_account("sendgrid"),
        "mandrill": make_account("mailchimp_transactional"),
        "marketing": make_account("mailchimp_marketing"),
        "smtp": make_account("smtp"),
    }


def sync_of(template, account) -> TemplateSync:
    return TemplateSync.objects.get(template=template, account=account)


def test_publish_pushes_to_sendgrid_and_mandrill(accounts, make_template, esp_sandbox):
    template = make_template(publish=True, text="Refund {{refund.amount}}")
    expected = provider_content(template.active_version, "en")

    assert {s.account.kind for s in template.syncs.all()} == {"sendgrid", "mailchimp_transactional"}
    sendgrid = sync_of(template, accounts["sendgrid"])
    assert sendgrid.status == SyncStatus.CURRENT
    assert sendgrid.remote_id.startswith("d-")
    [created, version] = esp_sandbox.records("sendgrid")
    assert created["body"] == {"name": "Refund processed", "generation": "dynamic"}
    assert version["path"] == f"/v3/templates/{sendgrid.remote_id}/versions"
    assert version["body"]["subject"] == expected.subject
    assert version["body"]["html_content"] == expected.html
    assert version["body"]["plain_content"] == "Refund {{{refund.amount}}}"
    assert version["body"]["active"] == 1

    mandrill = sync_of(template, accounts["mandrill"])
    assert mandrill.status == SyncStatus.CURRENT
    calls = [(r["path"], r["body"]) for r in esp_sandbox.records("mandrill")]
    add = next(body for path, body in calls if path.endswith("templates/add.json"))
    assert add["name"] == mandrill.remote_id
    assert add["code"] == expected.html
    assert add["subject"] == expected.subject
    assert any(path.endswith("templates/publish.json") for path, _ in calls)


def test_promotional_template_goes_to_mailchimp_marketing_as_merge_tags(
    accounts, make_template, esp_sandbox
):
    template = make_template(
        publish=True,
        purpose="promotional",
        slug="spring-offer",
        subject="A gift for you, {{customer.first_name}}",
        html="<p>Hello {{customer.first_name}}, thanks from {{brand.name}}!</p>",
        event_types=[],
    )

    sync = sync_of(template, accounts["marketing"])
    assert sync.status == SyncStatus.CURRENT
    [created] = [r for r in esp_sandbox.records("mailchimp") if r["path"] == "/3.0/templates"]
    assert "Hello *|FNAME|*, thanks from Test Shop!" in created["body"]["html"]
    assert sync.remote_id.isdigit()  # Mailchimp template ids are integers


def test_a_second_publish_updates_the_same_remote_templates(
    accounts, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    template = make_template(publish=True)
    first_remote = sync_of(template, accounts["sendgrid"]).remote_id
    template.subject = "Changed {{return_id}}"
    template.save()
    version = template_version_create(template=template)

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(version=version)

    sendgrid = sync_of(template, accounts["sendgrid"])
    assert sendgrid.remote_id == first_remote
    assert sendgrid.version == version
    assert [r["path"] for r in esp_sandbox.records("sendgrid")].count("/v3/templates") == 1
    mandrill_paths = [r["path"] for r in esp_sandbox.records("mandrill")]
    assert any(p.endswith("templates/update.json") for p in mandrill_paths)


def test_pushing_twice_is_harmless(accounts, make_template, esp_sandbox):
    template = make_template(publish=True)
    before = len(esp_sandbox.records("sendgrid"))

    assert template_sync_push(sync_id=sync_of(template, accounts["sendgrid"]).pk) is None

    assert len(esp_sandbox.records("sendgrid")) == before


def test_transient_error_retries_with_backoff_then_succeeds(
    accounts, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", times=1))
    template = make_template(publish=True)

    sync = sync_of(template, accounts["sendgrid"])
    assert sync.status == SyncStatus.RETRYING
    assert "503" in sync.error
    assert sync.next_attempt_at > timezone.now()

    TemplateSync.objects.filter(pk=sync.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert template_sync_sweep() == 1

    sync.refresh_from_db()
    assert sync.status == SyncStatus.CURRENT
    assert sync.error == ""


def test_permanent_error_fails_with_the_providers_words(accounts, make_template, esp_sandbox):
    accounts["mandrill"].api_key = "md-revoked-key-000001"
    accounts["mandrill"].save()

    template = make_template(publish=True)

    sync = sync_of(template, accounts["mandrill"])
    assert sync.status == SyncStatus.FAILED
    assert "Invalid_Key" in sync.error


def test_lost_pushes_are_swept_up(
    accounts, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    template = make_template()  # not published through the queue: simulate a lost task
    with django_capture_on_commit_callbacks(execute=False):
        template_publish(version=template.versions.get())
    assert {s.status for s in template.syncs.all()} == {SyncStatus.PENDING}

    with django_capture_on_commit_callbacks(execute=True):
        template_sync_sweep()

    assert {s.status for s in template.syncs.all()} == {SyncStatus.CURRENT}


def _sendgrid_edit(esp_sandbox, sync, html):
    response = requests.patch(
        f"{esp_sandbox.base_url('sendgrid')}/v3/templates/{sync.remote_id}/versions/{sync.remote_version_id}",
        headers={"Authorization": f"Bearer {TEST_KEYS['sendgrid']}"},
        json={"name": "edited", "subject": "edited at SendGrid", "html_content": html},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_check_sync_flags_a_copy_edited_at_the_provider(accounts, make_template, esp_sandbox):
    template = make_template(publish=True)
    sendgrid = sync_of(template, accounts["sendgrid"])
    assert template_sync_check(sync_id=sendgrid.pk).status == SyncStatus.CURRENT

    _sendgrid_edit(esp_sandbox, sendgrid, "<p>Someone changed this at SendGrid</p>")

    checked = template_sync_check(sync_id=sendgrid.pk)
    assert checked.status == SyncStatus.DRIFTED
    assert checked.error == "drift: subject, HTML edited at the provider"
    assert template_sync_check(sync_id=sync_of(template, accounts["mandrill"]).pk).status == (
        SyncStatus.CURRENT
    )


def test_check_sync_flags_mandrill_and_mailchimp_edits(accounts, make_template, esp_sandbox):
    template = make_template(
        publish=True, purpose="promotional", event_types=[], subject="Hi", html="<p>Offer</p>"
    )
    mandrill = sync_of(template, accounts["mandrill"])
    marketing = sync_of(template, accounts["marketing"])

    requests.post(
        f"{esp_sandbox.base_url('mandrill')}/api/1.3/templates/update.json",
        json={
            "key": TEST_KEYS["mailchimp_transactional"],
            "name": mandrill.remote_id,
            "code": "<p>x</p>",
            "publish": True,
        },
        timeout=10,
    ).raise_for_status()
    TemplateSync.objects.filter(pk=marketing.pk).update(
        pushed_at=timezone.now() - timedelta(minutes=5)
    )
    requests.patch(
        f"{esp_sandbox.base_url('mailchimp')}/3.0/templates/{marketing.remote_id}",
        auth=("user", TEST_KEYS["mailchimp_marketing"]),
        json={"name": "edited in Mailchimp"},
        timeout=10,
    ).raise_for_status()

    assert template_sync_check(sync_id=mandrill.pk).status == SyncStatus.DRIFTED
    checked = template_sync_check(sync_id=marketing.pk)
    assert checked.status == SyncStatus.DRIFTED
    assert "edited at the provider" in checked.error


def test_check_sync_flags_local_changes_not_pushed(accounts, make_template):
    template = make_template(publish=True)
    # Edited without the admin (which would push again at once).
    Layout.objects.filter(pk=template.layout_id).update(css="h1 { color: #ff0000; }")

    checked = template_sync_check(sync_id=sync_of(template, accounts["sendgrid"]).pk)

    assert checked.status == SyncStatus.DRIFTED
    assert "changed since the last push" in checked.error


def test_missing_remote_copy_is_drift(accounts, make_template, esp_sandbox):
    template = make_template(publish=True)
    sync = sync_of(template, accounts["sendgrid"])
    requests.delete(
        f"{esp_sandbox.base_url('sendgrid')}/v3/templates/{sync.remote_id}",
        headers={"Authorization": f"Bearer {TEST_KEYS['sendgrid']}"},
        timeout=10,
    ).raise_for_status()

    checked = template_sync_check(sync_id=sync.pk)

    assert checked.status == SyncStatus.DRIFTED
    assert checked.error == "drift: missing at the provider"
