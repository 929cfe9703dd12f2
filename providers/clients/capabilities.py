"""What each provider kind can do: declared on its client class, asked through the functions
here. Code outside `providers` asks these questions and never compares an account's kind.

======================================  ==========  ================  ===============  ========
Question (ClassVar / query)             sendgrid    mailchimp_        mailchimp_       smtp
                                                    transactional     marketing
======================================  ==========  ================  ===============  ========
send one email                          yes         yes               no               yes
  (Capability.SEND, `account_can`)
send a batch                            yes         yes               no               no
  (Capability.SEND_BATCH)
read its own suppression lists          yes         yes (rejects,     yes (cleaned,    no
  (Capability.LIST_SUPPRESSIONS)                    max 1,000)        unsubscribed)
add our unsubscribes to its list        yes         yes (rejects/add) yes (member PUT) no
  (Capability.ADD_UNSUBSCRIBES)
read a sent campaign's report           no          no                yes (summary,    no
  (Capability.CAMPAIGN_REPORTS)                                       activity)
how campaigns go out                    BATCHES     BATCHES           PROVIDER_        NONE
  (`campaigns`, `campaign_sending`)                                   CAMPAIGN
concurrent campaign runners             2           2                 (n/a)            (n/a)
  (`campaign_runners`)
a batch needs a stored template         yes         no                (n/a)            (n/a)
  (`batch_needs_stored_template`)
a campaign needs an unsubscribe group   yes         no                no               no
  (`campaign_needs_unsubscribe_group`)
template language                       HANDLEBARS  HANDLEBARS        MERGE_TAGS       NONE
  (`template_language`)
template purposes it stores             both        both              promotional      none
  (`template_purposes`,
  `kinds_storing_templates`)
webhook reports per email               EACH_EMAIL  OUTCOMES_ONLY     NOTHING          NOTHING
  (`reporting`, `account_reporting`)
keeps an audience of our customers      no          no                yes              no
  (`syncs_audience`)
webhook URL probe                       none        unsigned HEAD     GET with the     (no
  (`providers.webhooks.probe_answer`)                                 URL secret       webhooks)
reports a sender domain's               yes         yes               no               no
  authentication
  (Capability.DOMAIN_AUTHENTICATION)
sender domain checks                    SPF, DKIM,  SPF, DKIM, DMARC  DMARC only       the
  (`sender_auth_plan`)                  DMARC                                          relay's
======================================  ==========  ================  ===============  ========

SEND, SEND_BATCH, DOMAIN_AUTHENTICATION, LIST_SUPPRESSIONS, ADD_UNSUBSCRIBES and
CAMPAIGN_REPORTS follow from the methods a client implements (`send`, `send_batch`,
`domain_authentication`, `suppressions_listed`, `unsubscribes_add`, `campaign_report`); the
rest are ClassVars on `base.ProviderClient`, overridden by each client class
(tests/providers/test_capabilities.py holds this table as data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.clients.base import CLIENTS, client_class, client_for
from providers.clients.capability_types import (
    CampaignSending,
    Capability,
    Reporting,
    TemplateLanguage,
)

if TYPE_CHECKING:
    from providers.clients.base import ProviderClient
    from providers.clients.sender_auth_types import SenderAuthPlan
    from providers.models import ProviderAccount


def _of(account: ProviderAccount) -> type[ProviderClient]:
    return client_class(account.kind)


# --- sending ---------------------------------------------------------------------------------
def account_can(account: ProviderAccount, capability: Capability) -> bool:
    return _of(account).can(capability)


def kinds_that_can(capability: Capability) -> list[str]:
    """The account kinds whose client can do `capability` (to offer only those accounts)."""
    return [kind for kind in CLIENTS if client_class(kind).can(capability)]


def cannot_message(account: ProviderAccount, capability: Capability, doing: str) -> str:
    """For people: "<Kind> accounts cannot <doing> (<what to use instead>)"."""
    hint = _of(account).instead.get(capability)
    return f"{account.get_kind_display()} accounts cannot {doing}" + (f" ({hint})" if hint else "")


# --- campaigns -------------------------------------------------------------------------------
def campaign_sending(account: ProviderAccount) -> CampaignSending:
    return _of(account).campaigns


def kinds_sending_campaigns(*how: CampaignSending) -> list[str]:
    """The kinds that send campaigns in one of the ways `how` (none given: in any way)."""
    wanted = set(how) or set(CampaignSending) - {CampaignSending.NONE}
    return [kind for kind in CLIENTS if client_class(kind).campaigns in wanted]


def campaign_runners(account: ProviderAccount) -> int:
    """How many runner tasks send one campaign's batches at once."""
    return _of(account).campaign_runners


def batch_needs_stored_template(account: ProviderAccount) -> bool:
    """A batch renders only from a template stored at the provider (not from our sources)."""
    return _of(account).batch_needs_stored_template


def campaign_needs_unsubscribe_group(account: ProviderAccount) -> bool:
    """A campaign must name the provider's unsubscribe group (its unsubscribe link)."""
    return _of(account).campaign_needs_unsubscribe_group


# --- templates -------------------------------------------------------------------------------
def template_language(account: ProviderAccount) -> TemplateLanguage:
    return _of(account).template_language


def kinds_storing_templates(purpose: str) -> list[str]:
    """The kinds that keep a copy of templates of `purpose` ("transactional", "promotional")."""
    return [kind for kind in CLIENTS if purpose in client_class(kind).template_purposes]


# --- what comes back -------------------------------------------------------------------------
def account_reporting(account: ProviderAccount) -> Reporting:
    return _of(account).reporting


def kinds_reporting(*reporting: Reporting) -> list[str]:
    """The account kinds whose webhooks report one of `reporting` of each email."""
    return [kind for kind in CLIENTS if client_class(kind).reporting in reporting]


def syncs_audience(account: ProviderAccount) -> bool:
    """The provider keeps an audience of our customers (synced from the customer table)."""
    return _of(account).syncs_audience


def kinds_syncing_audience() -> list[str]:
    return [kind for kind in CLIENTS if client_class(kind).syncs_audience]


# --- sender authentication -------------------------------------------------------------------
def sender_auth_plan(account: ProviderAccount) -> SenderAuthPlan:
    """What the account's sender domain must publish (SPF include, DKIM records), and which
    checks apply (an SMTP account's depend on its relay host)."""
    return client_for(account).sender_auth_plan()
