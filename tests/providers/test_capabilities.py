"""Callers ask a provider client what it can do: a client can do what it implements, declares
the rest (the table in providers/clients/capabilities.py, held here as data), and a refusal says
what to use instead."""

from __future__ import annotations

import pytest

from providers.clients import (
    CampaignSending,
    Capability,
    Reporting,
    TemplateLanguage,
    account_can,
    account_reporting,
    batch_needs_stored_template,
    campaign_needs_unsubscribe_group,
    campaign_runners,
    campaign_sending,
    cannot_message,
    client_for,
    kinds_reporting,
    kinds_sending_campaigns,
    kinds_storing_templates,
    kinds_syncing_audience,
    kinds_that_can,
    syncs_audience,
    template_language,
)
from providers.clients.base import CLIENTS, ProviderClient, client_class
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError

pytestmark = pytest.mark.django_db

LISTS = {Capability.LIST_SUPPRESSIONS, Capability.ADD_UNSUBSCRIBES}
CAN = {
    "sendgrid": {
        Capability.SEND,
        Capability.SEND_BATCH,
        Capability.DOMAIN_AUTHENTICATION,
        *LISTS,
    },
    "mailchimp_transactional": {
        Capability.SEND,
        Capability.SEND_BATCH,
        Capability.DOMAIN_AUTHENTICATION,
        *LISTS,
    },
    "smtp": {Capability.SEND},
    "mailchimp_marketing": {*LISTS, Capability.CAMPAIGN_REPORTS},
}


@pytest.mark.parametrize("kind", CAN)
def test_each_kind_can_what_its_client_implements(make_account, kind):
    account = make_account(kind)

    assert {c for c in Capability if account_can(account, c)} == CAN[kind]


def test_kinds_that_can_send_one_email():
    assert kinds_that_can(Capability.SEND) == ["sendgrid", "mailchimp_transactional", "smtp"]
    assert kinds_that_can(Capability.SEND_BATCH) == ["sendgrid", "mailchimp_transactional"]
    assert kinds_that_can(Capability.LIST_SUPPRESSIONS) == [
        "sendgrid",
        "mailchimp_marketing",
        "mailchimp_transactional",
    ]
    assert kinds_that_can(Capability.ADD_UNSUBSCRIBES) == kinds_that_can(
        Capability.LIST_SUPPRESSIONS
    )


def test_what_a_client_cannot_do_is_refused_with_what_to_use_instead(make_account, esp_sandbox):
    account = make_account("mailchimp_marketing")
    email = OutgoingEmail(
        to=Address("ann@example.com"),
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        correlation_id="c1",
    )

    with pytest.raises(ProviderConfigurationError) as refused:
        client_for(account).send(email)

    assert (
        "mailchimp_marketing accounts do not support sending a transactional email "
        "(use a Mailchimp Transactional account)"
    ) in str(refused.value)
    assert cannot_message(account, Capability.SEND, "send alert emails") == (
        "Mailchimp Marketing accounts cannot send alert emails "
        "(use a Mailchimp Transactional account)"
    )
    assert esp_sandbox.records("mailchimp") == []


B, P, N = CampaignSending.BATCHES, CampaignSending.PROVIDER_CAMPAIGN, CampaignSending.NONE
H, M = TemplateLanguage.HANDLEBARS, TemplateLanguage.MERGE_TAGS
BOTH = {"transactional", "promotional"}
# kind: (campaigns, runners, batch needs a stored template, needs an unsubscribe group,
#        template language, template purposes, reporting, syncs an audience)
TABLE = {
    "sendgrid": (B, 2, True, True, H, BOTH, Reporting.EACH_EMAIL, False),
    "mailchimp_transactional": (B, 2, False, False, H, BOTH, Reporting.OUTCOMES_ONLY, False),
    "mailchimp_marketing": (P, 1, False, False, M, {"promotional"}, Reporting.NOTHING, True),
    "smtp": (N, 1, False, False, TemplateLanguage.NONE, set(), Reporting.NOTHING, False),
}


@pytest.mark.parametrize("kind", TABLE)
def test_each_kind_declares_what_the_table_says(make_account, kind):
    account = make_account(kind)

    assert (
        campaign_sending(account),
        campaign_runners(account),
        batch_needs_stored_template(account),
        campaign_needs_unsubscribe_group(account),
        template_language(account),
        set(client_class(kind).template_purposes),
        account_reporting(account),
        syncs_audience(account),
    ) == TABLE[kind]


def test_the_kinds_asked_for_by_capability():
    assert kinds_sending_campaigns() == [
        "sendgrid",
        "mailchimp_marketing",
        "mailchimp_transactional",
    ]
    assert kinds_sending_campaigns(P) == ["mailchimp_marketing"]
    assert kinds_sending_campaigns(B) == ["sendgrid", "mailchimp_transactional"]
    assert kinds_storing_templates("transactional") == ["sendgrid", "mailchimp_transactional"]
    assert kinds_storing_templates("promotional") == [
        "sendgrid",
        "mailchimp_marketing",
        "mailchimp_transactional",
    ]
    assert kinds_reporting(Reporting.NOTHING) == ["mailchimp_marketing", "smtp"]
    assert kinds_reporting(Reporting.EACH_EMAIL, Reporting.OUTCOMES_ONLY) == [
        "sendgrid",
        "mailchimp_transactional",
    ]
    assert kinds_syncing_audience() == ["mailchimp_marketing"]


@pytest.mark.parametrize("kind", CLIENTS)
def test_the_declarations_agree_with_what_the_client_implements(kind):
    cls = client_class(kind)
    pushes = cls.push_template is not ProviderClient.push_template

    # Stores templates exactly when it can push them, in a language and for some purpose.
    assert pushes == bool(cls.template_purposes) == (cls.template_language != TemplateLanguage.NONE)
    # Campaigns in batches exactly when it can send a batch.
    assert (cls.campaigns == CampaignSending.BATCHES) == cls.can(Capability.SEND_BATCH)
    assert cls.campaign_runners >= 1
