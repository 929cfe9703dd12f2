"""The clients read each provider's own suppression lists page by page and add unsubscribes to
them, through the sandbox (real SDKs, real paths, the providers' paging and limits); the
sandbox lists what its simulated mail bounced, reported or unsubscribed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from providers.clients import client_for
from providers.clients.mandrill_rejects import MIRRORED_MARK
from providers.exceptions import ProviderRequestError
from providers.sandbox.core import Fault
from providers.webhooks.types import BounceKind, DeliveryEventType
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

T = DeliveryEventType


def listed(account, **kwargs):
    return list(client_for(account).suppressions_listed(**kwargs))


def emails_of(pages) -> list[str]:
    return [entry.email for page in pages for entry in page.entries]


# --- SendGrid --------------------------------------------------------------------------------
def seed_sendgrid(sandbox, **body):
    return sandbox.seed_suppressions("sendgrid", TEST_KEYS["sendgrid"], body)


def test_sendgrid_lists_are_read_500_a_page_then_every_group(make_account, esp_sandbox):
    account = make_account("sendgrid")
    bounced = [f"b{i:04d}@example.com" for i in range(1203)]
    seed_sendgrid(esp_sandbox, list="bounces", emails=bounced, reason="550 5.1.1", status="5.1.1")
    seed_sendgrid(esp_sandbox, list="blocks", emails=["blocked@example.com"])
    seed_sendgrid(esp_sandbox, list="spam_reports", emails=["spam@example.com"])
    seed_sendgrid(esp_sandbox, list="unsubscribes", emails=["gone@example.com"])
    seed_sendgrid(esp_sandbox, list="group", group_id=7, emails=["g1@example.com", "g2@x.com"])

    pages = listed(account)

    assert [len(p.entries) for p in pages] == [500, 500, 203, 1, 1, 1, 2]
    assert emails_of(pages)[:1203] == bounced
    first = pages[0].entries[0]
    assert (first.type, first.bounce_kind, first.source) == (T.BOUNCED, BounceKind.HARD, "bounces")
    assert first.detail == "550 5.1.1"
    kinds = {e.email: (e.type, e.bounce_kind) for p in pages for e in p.entries}
    assert kinds["blocked@example.com"] == (T.BOUNCED, BounceKind.SOFT)
    assert kinds["spam@example.com"] == (T.COMPLAINED, "")
    assert kinds["gone@example.com"] == (T.UNSUBSCRIBED, "")
    assert kinds["g1@example.com"] == (T.UNSUBSCRIBED, "")
    assert pages[0].resume == {"list": "bounces", "offset": 500}
    assert pages[2].resume == {"list": "blocks", "offset": 0}


def test_sendgrid_listing_resumes_after_the_page_given(make_account, esp_sandbox):
    account = make_account("sendgrid")
    seed_sendgrid(esp_sandbox, list="bounces", emails=[f"b{i}@example.com" for i in range(700)])
    seed_sendgrid(esp_sandbox, list="group", group_id=3, emails=["g@example.com"])

    pages = listed(account, resume_from={"list": "bounces", "offset": 500})

    assert [len(p.entries) for p in pages] == [200, 0, 0, 0, 1]


def test_sendgrid_asks_only_for_entries_listed_since(make_account, esp_sandbox):
    account = make_account("sendgrid")
    old = int((datetime.now(UTC) - timedelta(days=3)).timestamp())
    seed_sendgrid(esp_sandbox, list="bounces", emails=["old@example.com"], created=old)
    seed_sendgrid(esp_sandbox, list="bounces", emails=["new@example.com"])

    pages = listed(account, since=datetime.now(UTC) - timedelta(days=1))

    assert emails_of(pages) == ["new@example.com"]


def test_a_sendgrid_rate_limit_stops_the_listing_with_its_delay(make_account, esp_sandbox):
    account = make_account("sendgrid")
    seed_sendgrid(esp_sandbox, list="bounces", emails=[f"b{i}@example.com" for i in range(600)])
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("429", times=1, retry_after=42, after=1))

    pages = client_for(account).suppressions_listed()
    assert len(next(pages).entries) == 500
    with pytest.raises(ProviderRequestError) as limited:
        next(pages)

    assert limited.value.status == 429
    assert limited.value.retry_after == 42
    assert not limited.value.permanent


def test_sendgrid_unsubscribes_go_to_each_group_else_to_the_global_list(make_account, esp_sandbox):
    account = make_account("sendgrid")
    seed_sendgrid(esp_sandbox, list="group", group_id=42, emails=[])
    client = client_for(account)

    client.unsubscribes_add(emails=["A@example.com", "b@example.com"], groups=[42])
    client.unsubscribes_add(emails=["c@example.com"])

    posts = [
        (r["path"], r["body"]) for r in esp_sandbox.records("sendgrid") if r["method"] == "POST"
    ]
    assert posts == [
        (
            "/v3/asm/groups/42/suppressions",
            {"recipient_emails": ["a@example.com", "b@example.com"]},
        ),
        ("/v3/asm/suppressions/global", {"recipient_emails": ["c@example.com"]}),
    ]
    assert {e.email for p in listed(account) for e in p.entries} == {
        "a@example.com",
        "b@example.com",
        "c@example.com",
    }


def test_the_sandbox_lists_what_its_sendgrid_mail_bounced_and_unsubscribed(
    make_account, esp_sandbox
):
    from providers.clients.types import Address, OutgoingEmail

    account = make_account("sendgrid")
    client = client_for(account)
    for to in ("ann+bounce@example.com", "bob+spamreport@example.com", "cy+unsubscribe@x.com"):
        client.send(
            OutgoingEmail(
                to=Address(to), subject="Hi", html="<p>Hi</p>", text="Hi", correlation_id=to
            )
        )

    kinds = {e.email: e.type for p in listed(account) for e in p.entries}
    assert kinds == {
        "ann+bounce@example.com": T.BOUNCED,
        "bob+spamreport@example.com": T.COMPLAINED,
        "cy+unsubscribe@x.com": T.UNSUBSCRIBED,
    }


# --- Mailchimp Transactional -------------------------------------------------------------------
def test_mandrill_rejects_are_read_with_their_reasons(make_account, esp_sandbox):
    account = make_account("mailchimp_transactional")
    key = TEST_KEYS["mailchimp_transactional"]
    for reason in ("hard-bounce", "soft-bounce", "spam", "unsub", "custom"):
        esp_sandbox.seed_suppressions(
            "mandrill", key, {"reason": reason, "emails": [f"{reason}@example.com"]}
        )
    esp_sandbox.seed_suppressions(
        "mandrill", key, {"reason": "hard-bounce", "emails": ["old@example.com"], "expired": True}
    )

    pages = listed(account)

    kinds = {e.email: (e.type, e.bounce_kind) for p in pages for e in p.entries}
    assert kinds == {
        "hard-bounce@example.com": (T.BOUNCED, BounceKind.HARD),
        "soft-bounce@example.com": (T.BOUNCED, BounceKind.SOFT),
        "spam@example.com": (T.COMPLAINED, ""),
        "unsub@example.com": (T.UNSUBSCRIBED, ""),
        "custom@example.com": (T.DENYLIST_ADDED, ""),
    }


def test_mandrill_unsubscribes_are_added_one_call_each_and_read_back_as_unsubscribes(
    make_account, esp_sandbox
):
    account = make_account("mailchimp_transactional")

    calls = client_for(account).unsubscribes_add(
        emails=["a@example.com", "B@example.com", "a@example.com"], comment="from the shop"
    )

    adds = [r["body"] for r in esp_sandbox.records("mandrill") if r["path"].endswith("/add.json")]
    assert calls == 2
    assert adds == [
        {"email": "a@example.com", "comment": f"{MIRRORED_MARK} from the shop"},
        {"email": "b@example.com", "comment": f"{MIRRORED_MARK} from the shop"},
    ]
    assert {(e.email, e.type) for p in listed(account) for e in p.entries} == {
        ("a@example.com", T.UNSUBSCRIBED),
        ("b@example.com", T.UNSUBSCRIBED),
    }


def test_the_sandbox_lists_what_its_mandrill_mail_bounced(make_account, esp_sandbox):
    from providers.clients.types import Address, OutgoingEmail

    account = make_account("mailchimp_transactional")
    client = client_for(account)
    for to in ("ann+bounce@example.com", "bo+softbounce@example.com", "cy+spam@example.com"):
        client.send(
            OutgoingEmail(
                to=Address(to), subject="Hi", html="<p>Hi</p>", text="Hi", correlation_id=to
            )
        )

    kinds = {e.email: (e.type, e.bounce_kind) for p in listed(account) for e in p.entries}
    assert kinds == {
        "ann+bounce@example.com": (T.BOUNCED, BounceKind.HARD),
        "bo+softbounce@example.com": (T.BOUNCED, BounceKind.SOFT),
        "cy+spam@example.com": (T.COMPLAINED, ""),
    }


# --- Mailchimp Marketing -----------------------------------------------------------------------
def test_audience_members_cleaned_and_unsubscribed_are_read_1000_a_page(make_account, esp_sandbox):
    account = make_account("mailchimp_marketing")
    key = TEST_KEYS["mailchimp_marketing"]
    unsubscribed = [f"u{i:04d}@example.com" for i in range(1500)]
    esp_sandbox.seed_suppressions(
        "mailchimp", key, {"audience": "aud001", "status": "unsubscribed", "emails": unsubscribed}
    )
    esp_sandbox.seed_suppressions(
        "mailchimp", key, {"audience": "aud001", "status": "cleaned", "emails": ["c@example.com"]}
    )
    esp_sandbox.seed_suppressions(
        "mailchimp", key, {"audience": "aud001", "status": "subscribed", "emails": ["s@x.com"]}
    )

    pages = listed(account)

    assert [len(p.entries) for p in pages] == [1, 1000, 500]
    assert (pages[0].entries[0].type, pages[0].entries[0].bounce_kind) == (
        T.BOUNCED,
        BounceKind.HARD,
    )
    assert emails_of(pages[1:]) == unsubscribed
    assert {e.type for p in pages[1:] for e in p.entries} == {T.UNSUBSCRIBED}
    assert pages[1].resume == {"status": "unsubscribed", "offset": 1000}
    # Only members changed since: none changed in the future.
    assert emails_of(listed(account, since=datetime.now(UTC) + timedelta(hours=1))) == []


def test_sendgrid_listing_resumed_at_a_group_reads_no_list_again(make_account, esp_sandbox):
    account = make_account("sendgrid")
    seed_sendgrid(esp_sandbox, list="bounces", emails=["b@example.com"])
    seed_sendgrid(esp_sandbox, list="group", group_id=3, emails=["g3@example.com"])
    seed_sendgrid(esp_sandbox, list="group", group_id=5, emails=["g5@example.com"])

    pages = listed(account, resume_from={"list": "group:5", "offset": 0})

    assert emails_of(pages) == ["g5@example.com"]


@pytest.mark.parametrize("kind", ["mailchimp_transactional", "mailchimp_marketing"])
def test_a_listing_resumed_after_its_last_page_reads_nothing(make_account, esp_sandbox, kind):
    account = make_account(kind)

    pages = listed(account)

    assert pages[-1].resume == {"done": True}
    assert listed(account, resume_from=pages[-1].resume) == []


def test_the_control_endpoint_seeds_a_keys_lists_and_refuses_what_it_cannot(
    make_account, esp_sandbox
):
    import requests

    account = make_account("sendgrid")
    url = f"{esp_sandbox.url}/_sandbox/suppressions"
    body = {"provider": "sendgrid", "key": TEST_KEYS["sendgrid"], "list": "spam_reports"}

    seeded = requests.post(url, json={**body, "emails": ["s@example.com"]}, timeout=5)
    refused = requests.post(url, json={**body, "list": "nope", "emails": []}, timeout=5)

    assert (seeded.status_code, seeded.json()) == (201, {"listed": 1})
    assert refused.status_code == 400
    assert emails_of(listed(account)) == ["s@example.com"]
