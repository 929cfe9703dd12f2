"""The admin form of suppressions: addresses are stored lower-case."""

from __future__ import annotations

from django import forms

from returns_mail.models import Suppression


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["email", "reason", "scope", "note"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()
