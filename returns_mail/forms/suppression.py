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


MAX_CSV_BYTES = 10 * 1024 * 1024


class SuppressionCsvImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "UTF-8 CSV with a header line: email, then any of scope (all, promotional), reason "
            "(hard_bounce, complaint, unsubscribe, manual, provider_deny) and note. Missing "
            "scope: all mail; missing reason: added by hand. Nothing is imported unless every "
            "line is good."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it."
            )
        return upload
