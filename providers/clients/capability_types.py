"""The values a client class declares what its kind can do with (`base.ProviderClient`'s
ClassVars), apart from the questions asked of them (`capabilities`), which need the clients."""

from enum import StrEnum


class Capability(StrEnum):
    """What a client can do. Callers ask the client (`can`), never the account's kind."""

    SEND = "send"  # one email: the outbox, test emails, alert emails
    SEND_BATCH = "send_batch"  # many recipients in one request: campaigns and their tests
    # The provider reports its own view of a sender domain's authentication (SendGrid domain
    # authentication, Mandrill sending domains).
    DOMAIN_AUTHENTICATION = "domain_authentication"
    # Read the provider's own suppression lists (bounces, complaints, unsubscribes), page by
    # page, to import them into ours.
    LIST_SUPPRESSIONS = "list_suppressions"
    # Put addresses on the provider's unsubscribe list: our unsubscribes mirrored there.
    ADD_UNSUBSCRIBES = "add_unsubscribes"
    # Read a campaign's report after it went out (summary and each member's opens, clicks and
    # bounces): how a kind whose webhooks say nothing per email still gives its results.
    CAMPAIGN_REPORTS = "campaign_reports"


class Reporting(StrEnum):
    """What a kind's webhooks tell us about each email it sent."""

    EACH_EMAIL = "each_email"  # delivered, bounced, opened, clicked...
    # Bounces and rejections but (by its documentation) no delivery: the rest counts as
    # delivered (Mailchimp Transactional).
    OUTCOMES_ONLY = "outcomes_only"
    # Nothing per email (Mailchimp Marketing: its campaign reports are its own; SMTP).
    NOTHING = "nothing"


class CampaignSending(StrEnum):
    """How a kind sends a campaign."""

    # Our runners send the recipients in chunks, one `send_batch` request each.
    BATCHES = "batches"
    # The provider sends its own campaign to a segment of the audience it keeps: it schedules
    # the send itself, a campaign has one content (one locale), and adding recipients to its
    # segment is idempotent (Mailchimp Marketing).
    PROVIDER_CAMPAIGN = "provider_campaign"
    NONE = "none"  # no campaigns


class TemplateLanguage(StrEnum):
    """What the templates a kind stores and renders are written in."""

    HANDLEBARS = "handlebars"  # our sources as they are (SendGrid, Mandrill)
    MERGE_TAGS = "merge_tags"  # Mailchimp merge tags (*|FNAME|*): converted before a push
    NONE = "none"  # it stores no templates: we render
