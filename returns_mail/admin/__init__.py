"""The admin of returns_mail, for IT admins: trigger rules without code (and a dry run of
each), events and messages read-only with resend/cancel through services, the suppression
list, API clients (tokens shown once), event types on/off, and provider circuit alerts."""

from returns_mail.admin import (  # noqa: F401 - importing registers the model admins
    api_clients,
    campaigns,
    catalogue,
    events,
    messages,
    rules,
    segments,
    suppression,
)
