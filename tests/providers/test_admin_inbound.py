"""The account admin: the inbound secret is entered (never shown back) and the inbound URL shown."""

from __future__ import annotations

import pytest

from providers.models import ProviderAccount, SecretChange
from providers.webhooks.inbound import url_secret

pytestmark = pytest.mark.django_db

SECRET = "inbound-secret-0123456789abcdef"


def test_inbound_url_is_shown_without_the_secret(make_account, admin_client):
    account = make_account("sendgrid", inbound_secret=SECRET)

    page = admin_client.get(
        f"/admin/providers/provideraccount/{account.pk}/change/"
    ).content.decode()

    assert f"/inbound/sendgrid/{account.pk}/{url_secret(SECRET)}/" in page
    assert SECRET not in page


def test_mandrill_inbound_url_is_shown(make_account, admin_client):
    account = make_account("mailchimp_transactional")

    page = admin_client.get(
        f"/admin/providers/provideraccount/{account.pk}/change/"
    ).content.decode()

    assert f"/inbound/mandrill/{account.pk}/" in page


def test_a_short_inbound_secret_is_refused(make_account):
    from providers.forms import ProviderAccountForm

    account = make_account("sendgrid")
    form = ProviderAccountForm(instance=account, data={"new_inbound_secret": "short"})

    form.is_valid()

    assert "new_inbound_secret" in form.errors


def test_an_entered_inbound_secret_is_stored_encrypted_and_recorded(make_account):
    from providers.services.accounts import account_secrets_set

    account = make_account("sendgrid")
    account_secrets_set(account=account, secrets={"inbound_secret": SECRET})

    assert ProviderAccount.objects.get(pk=account.pk).secret("inbound_secret") == SECRET
    assert SecretChange.objects.filter(account=account, field="inbound_secret").exists()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inbound_secret FROM providers_provideraccount WHERE id = %s", [account.pk]
        )
        assert SECRET not in cursor.fetchone()[0]
