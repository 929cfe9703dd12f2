"""One client per provider kind behind one interface (`base.ProviderClient`), and what each kind
can do (`capabilities`: ask these, never the account's kind)."""

from providers.clients import no_redirects
from providers.clients.base import client_for
from providers.clients.capabilities import (
    account_can,
    account_reporting,
    batch_needs_stored_template,
    campaign_needs_unsubscribe_group,
    campaign_runners,
    campaign_sending,
    cannot_message,
    kinds_reporting,
    kinds_sending_campaigns,
    kinds_storing_templates,
    kinds_syncing_audience,
    kinds_that_can,
    sender_auth_plan,
    syncs_audience,
    template_language,
)
from providers.clients.capability_types import (
    CampaignSending,
    Capability,
    Reporting,
    TemplateLanguage,
)
from providers.clients.mailchimp_marketing_types import subscriber_hash

no_redirects.install()

__all__ = [
    "CampaignSending",
    "Capability",
    "Reporting",
    "TemplateLanguage",
    "account_can",
    "account_reporting",
    "batch_needs_stored_template",
    "campaign_needs_unsubscribe_group",
    "campaign_runners",
    "campaign_sending",
    "cannot_message",
    "client_for",
    "kinds_reporting",
    "kinds_sending_campaigns",
    "kinds_storing_templates",
    "kinds_syncing_audience",
    "kinds_that_can",
    "sender_auth_plan",
    "subscriber_hash",
    "syncs_audience",
    "template_language",
]
