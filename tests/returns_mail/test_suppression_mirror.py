"""An unsubscribe from any source reaches every active provider's own unsubscribe list but the
account that reported it (services/suppression_mirror.py), checked at the sandbox."""

from __future__ import annotations

import pytest

from providers.clients.mandrill_rejects import MIRRORED_MARK
from providers.exceptions import ProviderRequestError
from providers.sandbox.core import Fault
from returns_mail import tasks
from returns_mail.models import Customer, Suppression, SuppressionReason, SuppressionScope
from returns_mail.services import audience
from returns_mail.services.audience import audience_sync_pending
from returns_mail.services.suppression import (
    SuppressionEntry,
    suppression_add,
    suppressions_add,
)
from returns_mail.services.suppression_mirror import COMMENT
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

PROMO = SuppressionScope.PROMOTIONAL


@pytest.fixture(autouse=True)
def _merge_fields_not_ensured():
    audience._ensured.clear()
    yield
    audience._ensured.clear()


@pytest.fixture
def accounts(make_account):
    return {
        # Promotional-only accounts: their account-wide lists may hold an unsubscribe.
        "sendgrid": make_account("sendgrid", purpose="promotional"),
        "mandrill": make_account("mailchimp_transactional", purpose="promotional"),
        "mailchimp": make_account("mailchimp_marketing"),
    }


def sendgrid_posts(sandbox) -> list[tuple[str, dict]]:
    return [
        (r["path"], r["body"])
        for r in sandbox.records("sendgrid")
        if r["path"].startswith("/v3/asm/")
    ]


def mandrill_adds(sandbox) -> list[dict]:
    return [
        r["body"] for r in sandbox.records("mandrill") if r["path"].endswith("rejects/add.json")
    ]


def mailchimp_puts(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.records("mailchimp") if r["method"] == "PUT"]


def unsubscribe(email: str, source=None):
    entry = SuppressionEntry(email=email, scope=PROMO, reason=SuppressionReason.UNSUBSCRIBE)
    suppressions_add([entry], source_account=source)
    return Suppression.objects.get(email=email, scope=PROMO)


def test_an_unsubscribe_reported_by_sendgrid_reaches_the_others_not_sendgrid(accounts, esp_sandbox):
    suppression = unsubscribe("ann@example.com", source=accounts["sendgrid"])
    assert suppression.mirror_pending

    assert tasks.mirror_unsubscribes() == 1

    assert sendgrid_posts(esp_sandbox) == []
    assert mandrill_adds(esp_sandbox) == [
        {"email": "ann@example.com", "comment": f"{MIRRORED_MARK} {COMMENT}"}
    ]
    assert [(p["email_address"], p["status"]) for p in mailchimp_puts(esp_sandbox)] == [
        ("ann@example.com", "unsubscribed")
    ]
    suppression.refresh_from_db()
    assert not suppression.mirror_pending
    assert tasks.mirror_unsubscribes() == 0  # nothing pending: nothing sent again
    assert len(mandrill_adds(esp_sandbox)) == 1


def test_an_unsubscribe_from_the_audience_is_not_sent_back_to_it(accounts, esp_sandbox):
    unsubscribe("bo@example.com", source=accounts["mailchimp"])

    tasks.mirror_unsubscribes()

    assert mailchimp_puts(esp_sandbox) == []
    assert sendgrid_posts(esp_sandbox) == [
        ("/v3/asm/suppressions/global", {"recipient_emails": ["bo@example.com"]})
    ]
    assert [a["email"] for a in mandrill_adds(esp_sandbox)] == ["bo@example.com"]


def test_sendgrid_gets_them_in_its_campaigns_groups_many_addresses_a_call(
    accounts, esp_sandbox, make_template
):
    template, segment = offer_template(make_template), everyone()
    for group_id in (42, 43):
        make_campaign(
            segment,
            template,
            accounts["sendgrid"],
            name=f"Offer {group_id}",
            unsubscribe_group_id=group_id,
        )
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        suppression_add(email=email, reason=SuppressionReason.UNSUBSCRIBE, scope=PROMO)

    tasks.mirror_unsubscribes()

    emails = ["a@example.com", "b@example.com", "c@example.com"]
    assert sendgrid_posts(esp_sandbox) == [
        ("/v3/asm/groups/42/suppressions", {"recipient_emails": emails}),
        ("/v3/asm/groups/43/suppressions", {"recipient_emails": emails}),
    ]
    assert len(mandrill_adds(esp_sandbox)) == 3  # Mandrill takes one address a call


def test_all_mail_suppressions_are_not_mirrored(accounts, esp_sandbox):
    suppression_add(email="hard@example.com", reason=SuppressionReason.HARD_BOUNCE)

    assert tasks.mirror_unsubscribes() == 0

    assert sendgrid_posts(esp_sandbox) == mandrill_adds(esp_sandbox) == []


def test_a_transient_failure_keeps_it_pending_and_raises(accounts, esp_sandbox):
    suppression = unsubscribe("cy@example.com", source=accounts["sendgrid"])
    esp_sandbox.faults.add(TEST_KEYS["mailchimp_transactional"], Fault("503", times=1))

    with pytest.raises(ProviderRequestError):
        tasks.unsubscribe_mirror(suppression.pk)

    suppression.refresh_from_db()
    assert suppression.mirror_pending
    assert tasks.mirror_unsubscribes() == 1  # the sweep repeats it: idempotent calls
    suppression.refresh_from_db()
    assert not suppression.mirror_pending
    assert [a["email"] for a in mandrill_adds(esp_sandbox)] == ["cy@example.com"]


def test_an_account_refusing_for_good_does_not_hold_the_others_back(make_account, esp_sandbox):
    make_account("mailchimp_transactional", api_key="md-revoked-key-0001", purpose="promotional")
    make_account("sendgrid", purpose="promotional")
    suppression = unsubscribe("dee@example.com")

    assert tasks.mirror_unsubscribes() == 1

    suppression.refresh_from_db()
    assert not suppression.mirror_pending
    assert sendgrid_posts(esp_sandbox) == [
        ("/v3/asm/suppressions/global", {"recipient_emails": ["dee@example.com"]})
    ]


def test_a_later_audience_sync_does_not_resubscribe_a_mirrored_unsubscribe(accounts, esp_sandbox):
    customer = Customer.objects.create(
        email="eve@example.com",
        name="Eve Shopper",
        marketing_consent=True,
        audience_sync_pending=True,
    )
    audience_sync_pending()
    members = esp_sandbox.state["mailchimp"][TEST_KEYS["mailchimp_marketing"]]["lists"]["aud001"]
    member = next(iter(members["members"].values()))
    assert member["status"] == "subscribed"
    unsubscribe("eve@example.com", source=accounts["sendgrid"])
    tasks.mirror_unsubscribes()
    assert member["status"] == "unsubscribed"

    customer.name = "Eve Changed"
    customer.audience_sync_pending = True
    customer.save()
    audience_sync_pending()

    assert member["status"] == "unsubscribed"
    assert member["merge_fields"]["FNAME"] == "Eve"


def test_the_sweep_runs_every_minute_from_the_migrations(db):
    from django_q.models import Schedule

    sweep = Schedule.objects.get(func="returns_mail.tasks.mirror_unsubscribes")

    assert (sweep.schedule_type, sweep.minutes, sweep.repeats) == (Schedule.MINUTES, 1, -1)


def test_an_address_a_provider_refuses_does_not_keep_the_others_off_its_list(
    make_account, esp_sandbox
):
    make_account("sendgrid", purpose="promotional")
    suppression_add(email="good@example.com", reason="unsubscribe", scope=PROMO)
    # Stored before any check (a webhook's address): SendGrid refuses it.
    Suppression.objects.create(
        email="not-an-address", reason="unsubscribe", scope=PROMO, mirror_pending=True
    )

    assert tasks.mirror_unsubscribes() == 2

    assert sendgrid_posts(esp_sandbox) == [
        ("/v3/asm/suppressions/global", {"recipient_emails": ["good@example.com"]})
    ]
    assert not Suppression.objects.filter(mirror_pending=True).exists()


@pytest.mark.parametrize("purpose", ["transactional", "both"])
def test_an_account_sending_transactional_mail_keeps_it_off_its_account_wide_list(
    make_account, make_template, esp_sandbox, purpose
):
    """A global unsubscribe or a Mandrill reject would stop the customer's returns emails too:
    those accounts keep the address; a SendGrid campaign's group (promotional mail) gets it."""
    grouped = make_account("sendgrid", purpose=purpose, name="Grouped")
    make_account("sendgrid", purpose=purpose, name="No group")
    make_account("mailchimp_transactional", purpose=purpose)
    make_campaign(everyone(), offer_template(make_template), grouped, unsubscribe_group_id=7)
    suppression_add(email="dee@example.com", reason="unsubscribe", scope=PROMO)

    assert tasks.mirror_unsubscribes() == 1

    assert sendgrid_posts(esp_sandbox) == [
        ("/v3/asm/groups/7/suppressions", {"recipient_emails": ["dee@example.com"]})
    ]
    assert mandrill_adds(esp_sandbox) == []
    assert not Suppression.objects.filter(mirror_pending=True).exists()
