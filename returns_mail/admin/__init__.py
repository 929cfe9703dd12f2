"""The admin of returns_mail, for IT admins: trigger rules without code (and a dry run of
each), events and messages read-only with resend/cancel through services, the suppression
list, API clients (tokens shown once), event types on/off, provider circuit alerts, campaigns,
staff logins without privilege escalation, and the task queue (read-only but for superusers)."""

from returns_mail.admin import (  # noqa: F401 - importing registers the model admins
    api_clients,
    audit,
    campaigns,
    catalogue,
    customers,
    events,
    messages,
    provider_accounts,
    rules,
    segments,
    suppression,
    task_queue,
    users,
)
