"""The admin form of API clients: the scopes as labelled boxes."""

from __future__ import annotations

from django import forms

from returns_mail.models import ApiClient
from returns_mail.models.api_clients import SCOPES

SCOPE_LABELS = {
    "events:write": "events:write — post return events",
    "messages:read": "messages:read — read what was sent",
}


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, SCOPE_LABELS.get(scope, scope)) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the client may do.",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "scopes", "rate_limit_per_minute", "is_active"]
