"""The dashboards' filters (GET): period, provider, email type, and the finer dimensions."""

from __future__ import annotations

from datetime import timedelta

from django import forms

from analytics.selectors.filters import (
    DEFAULT_DAYS,
    MAIL_CHOICES,
    MetricFilters,
    day_range,
    today,
)
from analytics.selectors.metrics import BREAKDOWNS
from providers.models import ProviderAccount, ProviderKind

MAX_DAYS = 366


def _event_type_choices() -> list[tuple[str, str]]:
    from templates_lib.catalogue import CATALOGUE

    return [("", "All email types")] + [(key, event.label) for key, event in CATALOGUE.items()]


class DateInput(forms.DateInput):
    input_type = "date"


class FilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DateInput)
    end = forms.DateField(label="To", required=False, widget=DateInput)
    provider = forms.ChoiceField(
        label="Provider", required=False, choices=[("", "All providers"), *ProviderKind.choices]
    )
    event_type = forms.ChoiceField(label="Email type", required=False, choices=())
    account = forms.ModelChoiceField(
        label="Account",
        required=False,
        empty_label="All accounts",
        # Names and kinds only: the secrets are never read here.
        queryset=ProviderAccount.objects.only("pk", "name", "kind").order_by("kind", "name"),
    )
    rule = forms.ModelChoiceField(
        label="Rule", required=False, empty_label="All rules", queryset=None
    )
    template = forms.ModelChoiceField(
        label="Template", required=False, empty_label="All templates", queryset=None
    )
    # Chosen with the links above the filters (the form keeps it when applied).
    mail = forms.ChoiceField(
        label="Mail", required=False, choices=MAIL_CHOICES.items(), widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs):
        from returns_mail.models import TriggerRule
        from templates_lib.models import Template

        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = _event_type_choices()
        self.fields["rule"].queryset = TriggerRule.objects.only("pk", "name").order_by("name")
        self.fields["template"].queryset = Template.objects.only("pk", "name").order_by("name")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            end = today()
        if start is None:
            start = end - timedelta(days=DEFAULT_DAYS - 1)
        if end is None:
            end = max(start, today())
        if start > end:
            raise forms.ValidationError("“From” must be on or before “To”.", code="order")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.", code="too_long")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> MetricFilters:
        """The validated filters (call after is_valid())."""
        data = self.cleaned_data
        return day_range(
            data["start"],
            data["end"],
            provider_kind=data["provider"] or "",
            account_id=data["account"].pk if data["account"] else None,
            event_type=data["event_type"] or "",
            rule_id=data["rule"].pk if data["rule"] else None,
            template_id=data["template"].pk if data["template"] else None,
            mail=data["mail"] or "",
        )


class BreakdownForm(FilterForm):
    by = forms.ChoiceField(label="Break down by", required=False, choices=BREAKDOWNS.items())

    field_order = ["by"]

    def clean_by(self) -> str:
        return self.cleaned_data["by"] or "event_type"
