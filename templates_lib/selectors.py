"""Reads of the template library."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from providers.models import ProviderAccount, ProviderKind
from providers.models import Purpose as AccountPurpose
from templates_lib.models import Purpose, Template, TemplateSync

# Provider kinds that store templates, and for which template purposes.
TEMPLATE_KINDS = {
    ProviderKind.SENDGRID: {Purpose.TRANSACTIONAL, Purpose.PROMOTIONAL},
    ProviderKind.MAILCHIMP_TRANSACTIONAL: {Purpose.TRANSACTIONAL, Purpose.PROMOTIONAL},
    # Marketing templates are for campaigns only.
    ProviderKind.MAILCHIMP_MARKETING: {Purpose.PROMOTIONAL},
}


def accounts_storing(template: Template) -> QuerySet[ProviderAccount]:
    """Active accounts that keep a copy of `template`: right kind, purpose covering it."""
    kinds = [kind for kind, purposes in TEMPLATE_KINDS.items() if template.purpose in purposes]
    return ProviderAccount.objects.filter(
        is_active=True,
        kind__in=kinds,
        purpose__in=[AccountPurpose.BOTH, template.purpose],
    ).order_by("priority", "pk")


def syncs_due(now) -> QuerySet[TemplateSync]:
    """Syncs a worker should push now (waiting, or retrying and due)."""
    from templates_lib.models import SyncStatus

    return TemplateSync.objects.filter(
        Q(status=SyncStatus.PENDING) | Q(status=SyncStatus.RETRYING, next_attempt_at__lte=now)
    )
