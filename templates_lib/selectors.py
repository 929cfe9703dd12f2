"""Reads of the template library."""

from __future__ import annotations

from django.db.models import QuerySet

from providers.clients import kinds_storing_templates
from providers.models import ProviderAccount, Purpose
from templates_lib.models import Template


def accounts_storing(template: Template) -> QuerySet[ProviderAccount]:
    """Active accounts that keep a copy of `template`: a kind storing templates of its
    purpose, an account purpose covering it."""
    return ProviderAccount.objects.filter(
        is_active=True,
        kind__in=kinds_storing_templates(template.purpose),
        purpose__in=[Purpose.BOTH, template.purpose],  # the accounts that serve it
    ).order_by("priority", "pk")
