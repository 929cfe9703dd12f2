"""The public unsubscribe pages: one-click (RFC 8058) and the button, the confirmation page that
changes nothing, bad and expired links, and the preference page."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django_q.signals import pre_enqueue
from django_q.utils import get_func_repr

from returns_mail.models import ConsentRecord, Customer, Suppression
from returns_mail.services.consent import consent_withdraw
from returns_mail.services.unsubscribe_links import SALT, link_token, unsubscribe_links
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

EMAIL = "ada.customer@example.com"
REF = "7d1c3e6a-0000-4000-8000-000000000001"


@pytest.fixture
def customer(db):
    return Customer.objects.create(email=EMAIL, locale="en-GB", marketing_consent=True)


@pytest.fixture
def client():
    # A mailbox provider's POST: no cookie, no CSRF token.
    return Client(enforce_csrf_checks=True)


def token(email=EMAIL, ref=REF, **kwargs) -> str:
    return link_token(email=email, ref=ref, **kwargs)


def one_click(client, value: str):
    return client.post(
        f"/u/{value}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def rows(email=EMAIL):
    return {
        "suppressions": list(Suppression.objects.values_list("email", "scope", "reason")),
        "history": list(
            ConsentRecord.objects.filter(email=email).values_list("granted", "source", "detail")
        ),
    }


def test_one_click_post_suppresses_records_history_and_queues_the_mirror(
    client, customer, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    audience = make_account("mailchimp_marketing")
    queued = []

    def seen(sender, task, **kwargs):
        queued.append(get_func_repr(task["func"]))

    pre_enqueue.connect(seen, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = one_click(client, token())
    finally:
        pre_enqueue.disconnect(seen)

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert rows() == {
        "suppressions": [(EMAIL, "promotional", "unsubscribe")],
        "history": [(False, "unsubscribe_link", f"message {REF}")],
    }
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert queued == ["returns_mail.tasks.unsubscribe_mirror"]
    [put] = [r for r in esp_sandbox.records("mailchimp") if r["method"] == "PUT"]
    assert audience.audience_id in put["path"]
    assert (put["body"]["email_address"], put["body"]["status"]) == (EMAIL, "unsubscribed")


def test_a_second_post_answers_the_same_and_writes_nothing_more(
    client, customer, django_capture_on_commit_callbacks
):
    value = token()
    with django_capture_on_commit_callbacks(execute=True):
        first = one_click(client, value)
    queued = []

    def seen(sender, task, **kwargs):
        queued.append(get_func_repr(task["func"]))

    pre_enqueue.connect(seen, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            second = one_click(client, value)
    finally:
        pre_enqueue.disconnect(seen)

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(rows()["history"]) == 1
    assert Suppression.objects.count() == 1
    assert queued == []


def test_the_page_button_posts_the_same_unsubscribe(client, customer):
    page = client.get(f"/u/{token()}")
    assert 'name="List-Unsubscribe" value="One-Click"' in page.content.decode()

    response = client.post(f"/u/{token()}", {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert rows()["suppressions"] == [(EMAIL, "promotional", "unsubscribe")]


def test_get_shows_a_confirmation_and_changes_nothing(client, customer):
    response = client.get(f"/u/{token()}")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Unsubscribe from promotional emails?" in body
    assert f'action="/u/{token()}"' in body
    assert "<script" not in body
    assert rows() == {"suppressions": [], "history": []}
    customer.refresh_from_db()
    assert customer.marketing_consent is True
    # The page keeps the strict policy: no inline script, no framing.
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def _tampered() -> str:
    value = token()
    return value[:-2] + ("AA" if not value.endswith("AA") else "BB")  # signature changed


def _other_address() -> str:
    # The payload of another address under the genuine signature.
    value, eve = token(), token(email="eve@example.com")
    return eve.rsplit(":", 2)[0] + ":" + value.split(":", 1)[1]


BAD_TOKENS = {
    "garbage": lambda: "not-a-token",
    "tampered": _tampered,
    "other-address": _other_address,
    "other-salt": lambda: signing.dumps({"e": EMAIL, "r": REF}, salt="another", compress=True),
    "no-email": lambda: signing.dumps({"r": REF}, salt=SALT, compress=True),
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_400_and_changes_nothing(client, customer, kind):
    value = BAD_TOKENS[kind]()
    for response in (
        client.get(f"/u/{value}"),
        one_click(client, value),
        Client().get(f"/u/{value}/preferences"),
        Client().post(f"/u/{value}/preferences", {"offers": "on"}),
    ):
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
    assert rows() == {"suppressions": [], "history": []}
    assert Suppression.objects.count() == ConsentRecord.objects.count() == 0


def test_an_expired_token_is_410_and_changes_nothing(client, customer, settings):
    settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS = 90
    signed_at = time.time() - timedelta(days=91).total_seconds()
    with mock.patch("django.core.signing.time.time", return_value=signed_at):
        value = token()

    for response in (client.get(f"/u/{value}"), one_click(client, value)):
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    assert rows() == {"suppressions": [], "history": []}


def test_pages_speak_the_customers_language_and_fall_back_to_english(client, customer):
    Customer.objects.filter(pk=customer.pk).update(locale="de-AT")
    german = client.get(f"/u/{token()}")
    assert 'lang="de"' in german.content.decode()
    assert "Werbe-E-Mails abbestellen?" in german.content.decode()

    # The email's own locale wins over the customer's.
    french = client.get(f"/u/{token(locale='fr')}")
    assert "Se désabonner des e-mails promotionnels ?" in french.content.decode()

    Customer.objects.filter(pk=customer.pk).update(locale="ja-JP")
    assert 'lang="en"' in client.get(f"/u/{token()}").content.decode()


# --- the preference page ------------------------------------------------------------------------


def test_preferences_turn_offers_off_and_on_again(customer, django_capture_on_commit_callbacks):
    browser = Client()  # a browser: it has the page's CSRF cookie
    url = f"/u/{token()}/preferences"
    page = browser.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="offers" value="on" checked' in body
    assert "(always on)" in body  # transactional mail: said so, not a choice

    with django_capture_on_commit_callbacks(execute=True):
        off = browser.post(url, {})
    assert off.status_code == 200
    assert 'name="offers" value="on" checked' not in off.content.decode()
    assert rows()["suppressions"] == [(EMAIL, "promotional", "unsubscribe")]

    with django_capture_on_commit_callbacks(execute=True):
        on = browser.post(url, {"offers": "on"})
    assert on.status_code == 200
    assert 'name="offers" value="on" checked' in on.content.decode()
    assert rows() == {
        "suppressions": [],
        "history": [
            (True, "preference_page", f"message {REF}"),
            (False, "preference_page", f"message {REF}"),
        ],
    }
    customer.refresh_from_db()
    assert customer.marketing_consent is True


def test_offers_back_on_lifts_only_the_unsubscribe(customer, django_capture_on_commit_callbacks):
    from returns_mail.services.suppression import suppression_add

    consent_withdraw(email=EMAIL, source="unsubscribe_link", at=customer.created_at)
    suppression_add(email=EMAIL, reason="complaint", scope="all")
    other = "bo@example.com"
    suppression_add(email=other, reason="hard_bounce", scope="promotional")

    browser = Client()
    response = browser.post(f"/u/{token()}/preferences", {"offers": "on"})

    assert response.status_code == 200
    assert set(Suppression.objects.values_list("email", "scope", "reason")) == {
        (EMAIL, "all", "complaint"),
        (other, "promotional", "hard_bounce"),
    }
    body = response.content.decode()
    assert 'name="offers" value="on" checked' not in body  # the complaint still stops it
    assert "reported as spam" in body
    customer.refresh_from_db()
    assert customer.marketing_consent is False


def test_a_bounce_scoped_to_promotional_mail_is_not_lifted_either(customer):
    from returns_mail.services.suppression import suppression_add

    suppression_add(email=EMAIL, reason="hard_bounce", scope="promotional")

    Client().post(f"/u/{token()}/preferences", {"offers": "on"})

    assert rows()["suppressions"] == [(EMAIL, "promotional", "hard_bounce")]


def test_the_preference_form_needs_its_csrf_token(customer):
    response = Client(enforce_csrf_checks=True).post(f"/u/{token()}/preferences", {})

    assert response.status_code == 403
    assert rows() == {"suppressions": [], "history": []}


def test_links_and_headers_of_one_email(settings):
    settings.PUBLIC_BASE_URL = "https://mail.shop.example"
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example"

    links = unsubscribe_links(email="Ada@Example.com", ref=REF, locale="de")

    value = links.unsubscribe_url.removeprefix("https://mail.shop.example/u/")
    assert links.preferences_url == f"https://mail.shop.example/u/{value}/preferences"
    assert links.headers == {
        "List-Unsubscribe": (
            f"<https://mail.shop.example/u/{value}>, "
            f"<mailto:unsubscribe@shop.example?subject=unsubscribe%20{value}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    from returns_mail.services.unsubscribe_links import link_subject

    subject = link_subject(value)
    assert (subject.email, subject.ref, subject.locale) == ("ada@example.com", REF, "de")


def test_the_customer_admin_page_shows_the_consent_history(admin_client, customer, client):
    one_click(client, token())

    response = admin_client.get(f"/admin/returns_mail/customer/{customer.pk}/change/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Consent history" in body
    assert "<td>withdrawn</td><td>One-click unsubscribe</td>" in body
    assert f"<td>message {REF}</td>" in body


def test_a_link_checkers_head_changes_nothing(client, customer):
    assert client.head(f"/u/{token()}").status_code == 200
    assert client.put(f"/u/{token()}").status_code == 405
    assert rows() == {"suppressions": [], "history": []}


def test_one_click_reaches_every_connected_provider(
    client, customer, make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    """The click, then each provider's own list as the sandbox received it: the audience, the
    SendGrid group of a campaign on an account that also sends transactional mail, and the
    account-wide lists of promotional-only accounts."""
    audience = make_account("mailchimp_marketing")
    both = make_account("sendgrid", purpose="both", name="SendGrid both")
    make_campaign(everyone(), offer_template(make_template), both, unsubscribe_group_id=42)
    make_account("sendgrid", purpose="promotional", name="SendGrid offers")
    make_account("mailchimp_transactional", purpose="promotional")

    with django_capture_on_commit_callbacks(execute=True):
        assert one_click(client, token()).status_code == 200

    sendgrid = sorted(
        (r["path"], tuple(r["body"]["recipient_emails"]))
        for r in esp_sandbox.records("sendgrid")
        if r["path"].startswith("/v3/asm/")
    )
    assert sendgrid == [
        ("/v3/asm/groups/42/suppressions", (EMAIL,)),
        ("/v3/asm/suppressions/global", (EMAIL,)),
    ]
    [reject] = [r["body"] for r in esp_sandbox.records("mandrill") if "rejects/add" in r["path"]]
    assert reject["email"] == EMAIL
    [put] = [r for r in esp_sandbox.records("mailchimp") if r["method"] == "PUT"]
    assert audience.audience_id in put["path"]
    assert put["body"]["status"] == "unsubscribed"
    assert not Suppression.objects.filter(mirror_pending=True).exists()
