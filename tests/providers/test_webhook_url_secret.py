"""The Mailchimp Marketing webhook URL secret: generated strong, shown once, short ones refused."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from providers.checks import webhook_url_secrets_strong
from providers.models import ProviderAccount, SecretChange
from providers.services.accounts import account_secrets_set, webhook_url_secret_new
from returns_mail.roles import IT_ADMINS
from tests.providers.test_admin import ADD_URL, post_form, staff

pytestmark = pytest.mark.django_db

STRONG = "a-manual-url-secret-0123456789abcdef"  # 36 characters


@pytest.fixture
def it_admin(client):
    user = staff(IT_ADMINS, "ita")
    client.force_login(user)
    return user


def add_marketing(client, **overrides):
    fields = {
        "name": "Audience",
        "kind": "mailchimp_marketing",
        "new_api_key": "0123456789abcdef0123456789abcdef-us6",
        "audience_id": "aud001",
    }
    return post_form(client, ADD_URL, **{**fields, **overrides})


def shown_url(response) -> tuple[str, str]:
    """The webhook URL the one-time page shows, and the secret in it."""
    url = re.search(r'<code id="webhook-url"[^>]*>([^<]+)</code>', response.text).group(1)
    return url, re.search(r"/mailchimp/\d+/([^/]+)/$", url).group(1)


def test_a_new_account_gets_a_generated_secret_shown_once(client, it_admin):
    response = add_marketing(client)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    url, secret = shown_url(response)
    account = ProviderAccount.objects.get()
    assert account.webhook_secret == secret
    assert len(secret) >= 43  # 32 random bytes
    assert url.startswith("http://testserver/webhooks/mailchimp/")
    assert client.get(url).status_code == 200  # Mailchimp's validator: the URL works
    assert client.get(url.replace(secret, STRONG)).status_code == 403
    change_page = client.get(reverse("admin:providers_provideraccount_change", args=[account.pk]))
    assert secret not in change_page.text  # never again
    assert list(SecretChange.objects.values_list("field", flat=True).order_by("field")) == [
        "api_key",
        "webhook_secret",
    ]


def test_generated_secrets_are_long_and_distinct():
    secrets = {webhook_url_secret_new() for _ in range(20)}

    assert len(secrets) == 20
    assert all(len(s) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", s) for s in secrets)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short-secret-1", "at least 32 characters (this one has 14)"),
        ("x" * 31, "at least 32 characters (this one has 31)"),
        ("with/a/slash-0123456789-0123456789", "letters, digits and - _ . ~ only"),
    ],
)
def test_a_weak_manual_secret_is_a_form_error_and_saves_nothing(client, it_admin, value, message):
    response = add_marketing(client, new_webhook_secret=value)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors["new_webhook_secret"])
    assert not ProviderAccount.objects.exists()


def test_a_long_manual_secret_is_kept(client, it_admin):
    response = add_marketing(client, new_webhook_secret=STRONG)

    assert response.status_code == 302
    assert ProviderAccount.objects.get().webhook_secret == STRONG


def test_generating_replaces_the_secret_of_an_account(client, it_admin, make_account):
    account = make_account("mailchimp_marketing", name="Audience", webhook_secret=STRONG)
    url = reverse("admin:providers_provideraccount_change", args=[account.pk])

    response = post_form(
        client,
        url,
        name="Audience",
        kind="mailchimp_marketing",
        audience_id="aud001",
        api_base_url=account.api_base_url,
        generate_webhook_secret="on",
    )

    assert response.status_code == 200
    _, secret = shown_url(response)
    account.refresh_from_db()
    assert account.webhook_secret == secret != STRONG


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"new_webhook_secret": STRONG, "generate_webhook_secret": "on"}, "not both"),
        (
            {"kind": "mailchimp_transactional", "generate_webhook_secret": "on"},
            "Only Mailchimp Marketing accounts",
        ),
    ],
)
def test_generating_is_refused_where_it_makes_no_sense(client, it_admin, overrides, message):
    response = add_marketing(client, **overrides)

    assert response.status_code == 200
    assert message in response.text
    assert not ProviderAccount.objects.exists()


def test_below_the_form_a_short_secret_is_refused_too(make_account):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ProviderAccount.objects.create(
            name="Audience", kind="mailchimp_marketing", webhook_secret="short-secret-1"
        )
    account = make_account("mailchimp_marketing", webhook_secret=STRONG)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        account_secrets_set(account=account, secrets={"webhook_secret": "short-secret-2"})

    assert ProviderAccount.objects.get().webhook_secret == STRONG
    assert not SecretChange.objects.exists()
    # Other kinds keep their provider's own keys (Mandrill's are shorter).
    make_account("mailchimp_transactional", webhook_secret="md-webhook-key-0001")


def test_a_stored_short_secret_is_a_startup_warning_not_a_lockout(client, it_admin, make_account):
    account = make_account("mailchimp_marketing", name="Legacy audience", webhook_secret=STRONG)
    ProviderAccount.objects.filter(pk=account.pk).update(  # as set before the rule existed
        webhook_secret=ProviderAccount._meta.get_field("webhook_secret").get_db_prep_save(
            "old-short-1", None
        )
    )
    change_url = reverse("admin:providers_provideraccount_change", args=[account.pk])

    [warning] = webhook_url_secrets_strong(None)
    assert warning.id == "providers.W001"
    assert "Legacy audience" in warning.msg
    assert "too short" in client.get(change_url).text
    # The account still works and can be edited; replacing the secret clears the warning.
    edit = {
        "name": "Legacy audience",
        "kind": "mailchimp_marketing",
        "audience_id": "aud001",
        "api_base_url": account.api_base_url,
    }
    assert post_form(client, change_url, **edit, from_name="Renamed").status_code == 302
    assert ProviderAccount.objects.get().webhook_secret == "old-short-1"
    assert post_form(client, change_url, **edit, generate_webhook_secret="on").status_code == 200
    assert webhook_url_secrets_strong(None) == []
