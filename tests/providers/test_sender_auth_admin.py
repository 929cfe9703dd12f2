"""The sender-authentication checklist on the account's admin page: run by "Test connection",
shown with the records to publish."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import SenderAuthResult
from providers.sandbox.sendgrid_domains import domain_authenticate
from tests.conftest import TEST_KEYS
from tests.providers.test_admin import it_admin  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

PUBLISHED = {
    "shop.example": {"TXT": ["v=spf1 include:sendgrid.net ~all"]},
    "s1._domainkey.shop.example": {"CNAME": ["s1.domainkey.u1.wl.sendgrid.net."]},
    "s2._domainkey.shop.example": {"CNAME": ["s2.domainkey.u1.wl.sendgrid.net."]},
}


def test_test_connection_runs_the_checklist_and_the_page_shows_it(
    client,
    it_admin,  # noqa: F811
    make_account,
    esp_sandbox,
    dns_zone,
):
    account = make_account("sendgrid")
    domain_authenticate(esp_sandbox, TEST_KEYS["sendgrid"], "shop.example")
    dns_zone.set_zone(PUBLISHED)  # no DMARC record
    change = reverse("admin:providers_provideraccount_change", args=[account.pk])

    before = client.get(change).content.decode()
    response = client.post(
        reverse("admin:providers_provideraccount_test_connection", args=[account.pk]),
        follow=True,
    )

    assert "Not checked yet" in before
    messages = [str(m) for m in response.context["messages"]]
    assert messages[1] == (
        f"{account.name}: sender authentication of shop.example: fail (DMARC policy; the "
        "records to publish are on the account's page)"
    )
    result = SenderAuthResult.objects.get(account=account)
    assert result.state == "fail"
    page = response.content.decode()
    assert "Sender authentication of shop.example: Fail" in page
    assert '<tr class="sender-auth-fail" data-check="dmarc">' in page
    assert "<code>TXT</code> <code>_dmarc.shop.example</code> <code>v=DMARC1; p=none</code>" in page
    assert '<tr class="sender-auth-pass" data-check="spf">' in page
    assert '<tr class="sender-auth-pass" data-check="provider">' in page


def test_the_changelist_action_runs_it_for_each_selected_account(
    client,
    it_admin,  # noqa: F811
    make_account,
    dns_zone,
):
    first, second = make_account("mailchimp_marketing"), make_account("smtp")
    dns_zone.set_zone({"_dmarc.shop.example": {"TXT": ["v=DMARC1; p=reject"]}})

    client.post(
        reverse("admin:providers_provideraccount_changelist"),
        {"action": "test_connection", "_selected_action": [first.pk, second.pk]},
    )

    states = dict(SenderAuthResult.objects.values_list("account_id", "state"))
    assert states == {first.pk: "pass", second.pk: "fail"}  # the relay's domain has no SPF
