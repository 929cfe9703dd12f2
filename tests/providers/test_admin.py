"""IT admins manage accounts in the admin: replace-only secrets, audit, checks, test emails."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from providers.models import ProviderAccount, SecretChange
from returns_mail.roles import IT_ADMINS, MANAGERS
from tests.conftest import SANDBOX_PREFIX, TEST_KEYS, TEST_SMTP_PASSWORD

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:providers_provideraccount_add")


def staff(role: str, username: str, is_staff: bool = True):
    user = get_user_model().objects.create_user(
        username, f"{username}@shop.example", "pw-for-tests-1", is_staff=is_staff
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def it_admin(client):
    user = staff(IT_ADMINS, "ita")
    client.force_login(user)
    return user


def form_data(**overrides) -> dict:
    data = {
        "name": "SendGrid main",
        "kind": "sendgrid",
        "purpose": "both",
        "priority": "10",
        "is_active": "on",
        "from_email": "returns@shop.example",
        "from_name": "Shop Returns",
        "reply_to": "",
        "api_base_url": "",
        "new_api_key": "",
        "audience_id": "",
        "webhook_verification_key": "",
        "new_webhook_secret": "",
        "smtp_preset": "",
        "smtp_host": "",
        "smtp_port": "",
        "smtp_security": "starttls",
        "smtp_username": "",
        "new_smtp_password": "",
        "smtp_timeout": "",
        # the secret-changes inline (read-only) still posts its management form
        "secretchange_set-TOTAL_FORMS": "0",
        "secretchange_set-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def inline_prefix(client) -> str:
    response = client.get(ADD_URL)
    for name in response.context["inline_admin_formsets"]:
        return name.formset.prefix
    return ""


def post_form(client, url, **overrides):
    data = form_data(**overrides)
    prefix = inline_prefix(client)
    data[f"{prefix}-TOTAL_FORMS"] = "0"
    data[f"{prefix}-INITIAL_FORMS"] = "0"
    return client.post(url, data)


def test_adding_an_account_encrypts_the_key_and_records_who_set_it(client, it_admin):
    response = post_form(client, ADD_URL, new_api_key="SG.brand-new-key-0042")

    assert response.status_code == 302, response.context["adminform"].form.errors
    account = ProviderAccount.objects.get(name="SendGrid main")
    assert account.api_key == "SG.brand-new-key-0042"
    change = SecretChange.objects.get(account=account)
    assert (change.field, change.changed_by) == ("api_key", it_admin)


def test_change_page_never_renders_a_secret(client, it_admin, make_account):
    account = make_account(
        "sendgrid", api_key="SG.very-secret-key-7788", webhook_secret="whk-123456"
    )
    change_url = reverse("admin:providers_provideraccount_change", args=[account.pk])

    pages = [
        client.get(change_url),
        client.get(reverse("admin:providers_provideraccount_changelist")),
        client.get(reverse("admin:providers_provideraccount_history", args=[account.pk])),
        client.get(reverse("admin:providers_provideraccount_send_test", args=[account.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "SG.very-secret-key-7788" not in html
        assert "whk-123456" not in html
        assert account.api_key[:-4] not in html
    change_html = pages[0].content.decode()
    assert "set (ending …7788)" in change_html
    assert "not set" in change_html  # the SMTP password
    assert 'name="new_api_key"' in change_html


def test_empty_secret_input_keeps_the_secret_and_replacing_is_audited(
    client, it_admin, make_account
):
    account = make_account("sendgrid", name="SendGrid main", api_key="SG.keep-this-key-0001")
    change_url = reverse("admin:providers_provideraccount_change", args=[account.pk])

    assert post_form(client, change_url, from_name="Renamed").status_code == 302
    account.refresh_from_db()
    assert account.api_key == "SG.keep-this-key-0001"
    assert account.from_name == "Renamed"
    assert not SecretChange.objects.exists()

    assert post_form(client, change_url, new_api_key="SG.replaced-key-0002").status_code == 302
    account.refresh_from_db()
    assert account.api_key == "SG.replaced-key-0002"
    assert list(SecretChange.objects.values_list("field", "changed_by")) == [
        ("api_key", it_admin.pk)
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({}, "new_api_key", "An API key is required"),
        (
            {"kind": "mailchimp_marketing", "new_api_key": "abc-us6"},
            "audience_id",
            "need an audience id",
        ),
        (
            {
                "kind": "smtp",
                "smtp_host": "relay.example.com",
                "smtp_port": "25",
                "smtp_security": "none",
            },
            "smtp_security",
            "Unencrypted SMTP is allowed only",
        ),
        ({"kind": "smtp", "smtp_port": "587"}, "smtp_host", "need a host"),
        (
            {
                "kind": "smtp",
                "smtp_host": "relay.example.com",
                "smtp_port": "587",
                "smtp_username": "bob",
            },
            "new_smtp_password",
            "password is required",
        ),
        (
            {
                "kind": "smtp",
                "smtp_host": "cache.internal.example",
                "smtp_port": "6379",
                "new_smtp_password": "pw-000000000001",
            },
            "smtp_port",
            "Port 6379 is not an allowed SMTP port; use one of 25, 465, 587, 2525",
        ),
    ],
)
def test_bad_input_is_a_form_error_and_saves_nothing(client, it_admin, overrides, field, message):
    response = post_form(client, ADD_URL, **overrides)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not ProviderAccount.objects.exists()
    assert not SecretChange.objects.exists()


def test_smtp_preset_fills_the_relay_settings(client, it_admin):
    response = post_form(
        client,
        ADD_URL,
        kind="smtp",
        name="SendGrid relay",
        smtp_preset="sendgrid",
        new_smtp_password="SG.relay-key-00000001",
    )

    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="SendGrid relay")
    assert (account.smtp_host, account.smtp_port, account.smtp_security, account.smtp_username) == (
        "smtp.sendgrid.net",
        587,
        "starttls",
        "apikey",
    )


def test_smtp_extra_ports_allows_another_port(client, it_admin, settings):
    settings.SMTP_EXTRA_PORTS = [2526]

    response = post_form(
        client,
        ADD_URL,
        kind="smtp",
        smtp_host="relay.example.com",
        smtp_port="2526",
        smtp_username="relay",
        new_smtp_password="pw-000000000001",
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ProviderAccount.objects.get().smtp_port == 2526


def change_smtp(client, account, **overrides):
    """Post the change form of an SMTP account as it is, with `overrides`."""
    url = reverse("admin:providers_provideraccount_change", args=[account.pk])
    current = {
        "name": account.name,
        "kind": "smtp",
        "from_email": account.from_email,
        "smtp_host": account.smtp_host,
        "smtp_port": str(account.smtp_port),
        "smtp_security": account.smtp_security,
        "smtp_username": account.smtp_username,
    }
    return post_form(client, url, **{**current, **overrides})


@pytest.mark.parametrize(
    "change",
    [
        {"smtp_host": "relay.evil.example", "smtp_security": "starttls"},
        {"smtp_port": "2525"},
        {"smtp_security": "tls"},
        {"smtp_preset": "sendgrid"},
    ],
    ids=["host", "port", "security", "preset"],
)
def test_moving_an_smtp_account_needs_its_password_again(client, it_admin, make_account, change):
    account = make_account("smtp")

    response = change_smtp(client, account, **change)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "enter the password again" in " ".join(errors["new_smtp_password"])
    row = ProviderAccount.objects.get(pk=account.pk)
    assert (row.smtp_host, row.smtp_port, row.smtp_security, row.smtp_password) == (
        "127.0.0.1",
        account.smtp_port,
        "none",
        TEST_SMTP_PASSWORD,
    )
    assert not SecretChange.objects.exists()


def test_moving_it_with_the_password_sends_that_one_to_the_new_server(
    client, it_admin, make_account, esp_sandbox, settings
):
    from providers.sandbox.smtp import SmtpSandbox

    account = make_account("smtp")
    other = SmtpSandbox(esp_sandbox).start()
    settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, other.port]
    try:
        response = change_smtp(
            client, account, smtp_port=str(other.port), new_smtp_password="SG.moved-relay-0002"
        )
        assert response.status_code == 302, response.context["adminform"].form.errors
        send_test = reverse("admin:providers_provideraccount_send_test", args=[account.pk])
        client.post(send_test, {"to": "it-desk@shop.example"})
    finally:
        other.stop()

    [record] = esp_sandbox.records("smtp")
    assert record["key"] == "...0002"
    assert list(SecretChange.objects.values_list("field", flat=True)) == ["smtp_password"]


def test_managers_cannot_open_provider_accounts(client):
    manager = staff(MANAGERS, "mgr")
    client.force_login(manager)

    response = client.get(reverse("admin:providers_provideraccount_changelist"))

    assert response.status_code == 403


ALL_KINDS = ["sendgrid", "mailchimp_transactional", "smtp", "mailchimp_marketing"]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_test_connection_button_checks_and_records_the_answer(client, it_admin, make_account, kind):
    account = make_account(kind)
    url = reverse("admin:providers_provideraccount_test_connection", args=[account.pk])

    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)

    account.refresh_from_db()
    assert account.last_check_ok is True
    assert account.last_check_latency_ms > 0
    assert account.last_check_at is not None
    [message, sender_auth] = [str(m) for m in response.context["messages"]]
    assert message.startswith(f"{account.name}: connection ok in ")
    # The sender-authentication checklist runs with it (nothing published in the test DNS).
    assert sender_auth.startswith(f"{account.name}: sender authentication of shop.example: fail")


def test_test_connection_action_reports_a_failure_in_the_providers_words(
    client, it_admin, make_account
):
    account = make_account("smtp", smtp_password="revoked-00000000000")

    response = client.post(
        reverse("admin:providers_provideraccount_changelist"),
        {"action": "test_connection", "_selected_action": [account.pk]},
        follow=True,
    )

    account.refresh_from_db()
    assert account.last_check_ok is False
    assert "535" in account.last_check_detail
    [message, _sender_auth] = [str(m) for m in response.context["messages"]]
    assert "connection failed" in message
    assert "revoked-00000000000" not in response.content.decode()


SEND_TEST_RECORD_PROVIDER = {**SANDBOX_PREFIX, "smtp": "smtp"}


@pytest.mark.parametrize("kind", [k for k in ALL_KINDS if k != "mailchimp_marketing"])
def test_send_test_email_reaches_the_sandbox(client, it_admin, make_account, esp_sandbox, kind):
    account = make_account(kind)
    url = reverse("admin:providers_provideraccount_send_test", args=[account.pk])

    assert client.get(url).status_code == 200
    response = client.post(url, {"to": "it-desk@shop.example"}, follow=True)

    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Test email to it-desk@shop.example accepted by")
    records = esp_sandbox.records(SEND_TEST_RECORD_PROVIDER[kind])
    assert len(records) == 1
    assert "it-desk@shop.example" in str(records[0])
    for secret in (TEST_KEYS.get(kind), TEST_SMTP_PASSWORD):
        if secret:
            assert secret not in response.content.decode()


def test_send_test_email_with_bad_recipient_sends_nothing(
    client, it_admin, make_account, esp_sandbox
):
    account = make_account("smtp")
    url = reverse("admin:providers_provideraccount_send_test", args=[account.pk])

    response = client.post(url, {"to": "not-an-address"})

    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    assert esp_sandbox.records("smtp") == []


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_send_test_email_is_offered_only_where_the_client_can_send_one(
    client, it_admin, make_account, kind
):
    account = make_account(kind)
    send_test = reverse("admin:providers_provideraccount_send_test", args=[account.pk])

    page = client.get(reverse("admin:providers_provideraccount_change", args=[account.pk]))

    assert page.status_code == 200
    offered = f'href="{send_test}"' in page.content.decode()
    assert offered is (kind != "mailchimp_marketing")


@pytest.mark.parametrize("method", ["get", "post"])
def test_send_test_email_through_mailchimp_marketing_is_refused_and_sends_nothing(
    client, it_admin, make_account, esp_sandbox, method
):
    account = make_account("mailchimp_marketing")
    url = reverse("admin:providers_provideraccount_send_test", args=[account.pk])

    response = getattr(client, method)(url, {"to": "it-desk@shop.example"}, follow=True)

    change = reverse("admin:providers_provideraccount_change", args=[account.pk])
    assert response.redirect_chain == [(change, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Mailchimp Marketing accounts cannot send a single test email "
        "(use a Mailchimp Transactional account)."
    ]
    assert esp_sandbox.records("mailchimp") == []


def test_a_failed_test_email_redirects_so_a_reload_does_not_send_again(
    client, it_admin, make_account, esp_sandbox
):
    from providers.sandbox.core import Fault

    account = make_account("sendgrid")
    # One failure, then the sandbox would accept: a second send would be recorded.
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("500", times=1))
    url = reverse("admin:providers_provideraccount_send_test", args=[account.pk])

    response = client.post(url, {"to": "it-desk@shop.example"})

    assert response.status_code == 302
    assert response["Location"] == f"{url}?to=it-desk%40shop.example"
    page = client.get(response["Location"])  # what the browser shows, and what a reload asks
    [message] = [str(m) for m in page.context["messages"]]
    assert message.startswith("Test email not sent: ")
    assert page.context["form"]["to"].value() == "it-desk@shop.example"
    client.get(response["Location"])
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []


def test_custom_views_need_change_permission(client, make_account):
    viewer = get_user_model().objects.create_user("viewer", "v@shop.example", "pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_provideraccount"))
    client.force_login(viewer)
    account = make_account("smtp")

    for name in ("test_connection", "send_test"):
        url = reverse(f"admin:providers_provideraccount_{name}", args=[account.pk])
        assert client.post(url, {"to": "a@b.example"}).status_code == 403


def test_a_sendgrid_verification_key_that_is_not_one_is_a_form_error(client, it_admin):
    from providers.sandbox.sendgrid_events import new_signing_key, public_key_text

    refused = post_form(
        client, ADD_URL, new_api_key="SG.key-0042", webhook_verification_key="not a key"
    )
    assert refused.status_code == 200
    assert "Not a SendGrid verification key" in refused.text
    assert not ProviderAccount.objects.exists()

    key = public_key_text(new_signing_key())
    accepted = post_form(client, ADD_URL, new_api_key="SG.key-0042", webhook_verification_key=key)
    assert accepted.status_code == 302
    assert ProviderAccount.objects.get().webhook_verification_key == key
