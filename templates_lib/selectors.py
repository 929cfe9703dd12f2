"""Reads of the template library."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from providers.clients import kinds_storing_templates
from providers.models import ProviderAccount
from providers.models import Purpose as AccountPurpose
from templates_lib.models import Template, TemplateSync


def accounts_storing(template: Template) -> QuerySet[ProviderAccount]:
    """Active accounts that keep a copy of `template`: a kind storing templates of its
    purpose, an account purpose covering it."""
    return ProviderAccount.objects.filter(
        is_active=True,
        kind__in=kinds_storing_templates(template.purpose),
        purpose__in=[AccountPurpose.BOTH, template.purpose],
    ).order_by("priority", "pk")


def syncs_due(now) -> QuerySet[TemplateSync]:
    """Syncs a worker should push now (waiting, or retrying and due)."""
    from templates_lib.models import SyncStatus

    return TemplateSync.objects.filter(
        Q(status=SyncStatus.PENDING) | Q(status=SyncStatus.RETRYING, next_attempt_at__lte=now)
    )
