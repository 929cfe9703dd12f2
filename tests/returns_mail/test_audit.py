"""The audit trail: admin changes (Django's LogEntry) and service actions (config/audit.py),
listed read-only for IT admins under *Audit trail*, never with a secret in it."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from providers.models import ProviderAccount
from returns_mail.models import ApiClient, AuditEntry, Campaign
from returns_mail.models.api_clients import token_digest
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.api_clients import api_client_create
from returns_mail.services.campaigns import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from templates_lib.models import Template
from templates_lib.services.templates import template_publish, template_version_create
from tests.providers.test_admin import post_form
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

TRAIL_URL = reverse("admin:returns_mail_auditentry_changelist")
NEW_KEY = "SG.replaced-key-secret-value-0002"


def entries_for(obj) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        ).order_by("pk")
    )


def test_replacing_an_api_key_in_the_admin_is_on_the_trail_without_the_key(client, make_account):
    it_admin = login(client, IT_ADMINS, "it-auditor")
    account = make_account("sendgrid", name="SendGrid main", api_key="SG.old-key-value-0001")
    change_url = reverse("admin:providers_provideraccount_change", args=[account.pk])

    assert post_form(client, change_url, new_api_key=NEW_KEY).status_code == 302

    account.refresh_from_db()
    assert account.api_key == NEW_KEY
    entries = entries_for(account)
    secret_entry = [e for e in entries if e.change_message == "api_key changed"]
    assert len(secret_entry) == 1
    assert secret_entry[0].user == it_admin
    assert secret_entry[0].object_repr == str(account)
    assert secret_entry[0].action_flag == CHANGE
    # Django's own entry names the changed field by its label, never its value.
    assert any("API key" in e.get_change_message() for e in entries)
    for entry in LogEntry.objects.all():
        for value in (entry.object_repr, entry.change_message, entry.get_change_message()):
            assert NEW_KEY not in value
            assert "SG.old-key-value-0001" not in value

    page = client.get(TRAIL_URL, {"q": "api_key"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "api_key changed" in html
    assert "SendGrid main" in html
    assert "it-auditor" in html
    assert NEW_KEY not in html
    detail = client.get(
        reverse("admin:returns_mail_auditentry_change", args=[secret_entry[0].pk])
    ).content.decode()
    assert "api_key changed" in detail
    assert NEW_KEY not in detail


def test_rotating_an_api_client_token_in_the_admin_is_recorded(client):
    it_admin = login(client, IT_ADMINS, "ita")
    api_client, old_token = api_client_create(name="returns system", scopes=["events:write"])
    url = reverse("admin:returns_mail_apiclient_rotate", args=[api_client.pk])

    response = client.post(url)

    assert response.status_code == 200
    api_client.refresh_from_db()
    assert api_client.token_digest != token_digest(old_token)
    [entry] = entries_for(api_client)
    assert (entry.user, entry.change_message) == (it_admin, "rotated the token")
    page = response.content.decode()  # the new token, shown once, is in the page, not the trail
    new_token = next(w for w in page.split() if w.startswith("rm_") and len(w) > 20)
    assert not LogEntry.objects.filter(change_message__contains=new_token[:12]).exists()


def test_deactivating_an_api_client_in_the_admin_is_recorded(client):
    it_admin = login(client, IT_ADMINS, "ita")
    api_client, _ = api_client_create(name="returns system", scopes=["events:write"])
    url = reverse("admin:returns_mail_apiclient_change", args=[api_client.pk])
    data = {"name": "returns system", "scopes": ["events:write"], "rate_limit_per_minute": 6000}

    assert client.post(url, data).status_code == 302

    assert not ApiClient.objects.get(pk=api_client.pk).is_active
    [entry] = entries_for(api_client)
    assert entry.user == it_admin
    assert "active" in entry.get_change_message().lower()


def test_publishing_a_template_is_recorded(
    client, make_template, django_capture_on_commit_callbacks
):
    it_admin = login(client, IT_ADMINS, "ita")
    template = make_template()
    version = template.versions.get()

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(version=version, actor=it_admin)

    [entry] = entries_for(Template.objects.get(pk=template.pk))
    assert (entry.user, entry.change_message) == (it_admin, f"published version {version.number}")


def test_the_admin_publish_button_is_recorded(
    client, make_template, django_capture_on_commit_callbacks
):
    it_admin = login(client, IT_ADMINS, "ita")
    template = make_template()
    template.html = "<p>Hello {{customer.first_name}}, again</p>"
    template.save()
    version = template_version_create(template=template)
    url = reverse("admin:templates_lib_template_publish", args=[template.pk])

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"version": version.number}).status_code == 302

    assert [(e.user, e.change_message) for e in entries_for(template)] == [
        (it_admin, f"published version {version.number}")
    ]


def test_campaign_buttons_are_recorded(
    client, make_account, make_template, django_capture_on_commit_callbacks
):
    it_admin = login(client, IT_ADMINS, "ita")
    customers(3)
    sendgrid = make_account("sendgrid")  # before publishing: the template is pushed there
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)

    with django_capture_on_commit_callbacks(execute=False):  # the sends are not the point
        campaign_start(campaign_id=campaign.pk, actor=it_admin)
    Campaign.objects.filter(pk=campaign.pk).update(status="sending")
    campaign_pause(campaign_id=campaign.pk, actor=it_admin)
    with django_capture_on_commit_callbacks(execute=False):
        campaign_resume(campaign_id=campaign.pk, actor=it_admin)
    campaign_cancel(campaign_id=campaign.pk, actor=it_admin)

    assert [(e.user, e.change_message) for e in entries_for(campaign)] == [
        (it_admin, "started the campaign"),
        (it_admin, "paused the campaign"),
        (it_admin, "resumed the campaign"),
        (it_admin, "cancelled the campaign"),
    ]


def test_the_trail_filters_by_user_model_and_date_and_searches(client, make_account):
    it_admin = login(client, IT_ADMINS, "ita")
    account = make_account("sendgrid", name="SendGrid main")
    post_form(
        client,
        reverse("admin:providers_provideraccount_change", args=[account.pk]),
        new_api_key=NEW_KEY,
    )
    account_type = ContentType.objects.get_for_model(ProviderAccount)

    for params in (
        {"user__id__exact": it_admin.pk},
        {"content_type__id__exact": account_type.pk},
        {"action_flag__exact": CHANGE},
        {"q": "SendGrid main"},
    ):
        page = client.get(TRAIL_URL, params)
        assert page.status_code == 200, params
        assert "api_key changed" in page.content.decode(), params
    assert "api_key changed" not in client.get(TRAIL_URL, {"q": "nothing like it"}).content.decode()


def test_the_trail_is_read_only(client):
    login(client, IT_ADMINS, "ita")
    assert client.get(reverse("admin:returns_mail_auditentry_add")).status_code == 403
    entry = AuditEntry.objects.create(
        user=login(client, IT_ADMINS, "ita2"), action_flag=CHANGE, object_repr="x"
    )
    assert (
        client.post(reverse("admin:returns_mail_auditentry_delete", args=[entry.pk])).status_code
        == 403
    )


def test_managers_cannot_see_the_trail(client):
    login(client, MANAGERS, "manager")
    assert client.get(TRAIL_URL).status_code == 403
    index = client.get(reverse("admin:index"))
    assert "Audit trail" not in index.content.decode()


def test_it_admins_see_the_trail_in_the_admin_index(client):
    login(client, IT_ADMINS, "ita")
    assert "Audit trail" in client.get(reverse("admin:index")).content.decode()
