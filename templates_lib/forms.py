"""Admin forms of the template library: validation names the variable or the line."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.http import urlencode

from providers.clients import Capability, kinds_that_can
from providers.models import ProviderAccount
from templates_lib.catalogue import event_type_choices, sample_context
from templates_lib.models import Layout, Template, TemplateTranslation
from templates_lib.stored_events import stored_event_context
from templates_lib.validation import layout_errors, template_errors, unsubscribe_errors

CODE = forms.Textarea(attrs={"rows": 20, "cols": 100, "style": "font-family: monospace"})


def html_widget():
    """The HTML editor: CKEditor (the design's choice) or plain source, by TEMPLATE_EDITOR."""
    if settings.TEMPLATE_EDITOR == "ckeditor":
        from ckeditor.widgets import CKEditorWidget

        return CKEditorWidget(config_name="email")
    return CODE


def _add_errors(form, errors: dict[str, list[str]]) -> None:
    for field, messages in errors.items():
        form.add_error(field if field in form.fields else None, messages)


class TemplateForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The template may use only the variables all of these provide.",
    )

    class Meta:
        model = Template
        fields = [
            "name", "slug", "purpose", "event_types", "layout", "default_locale",
            "subject", "html", "text",
        ]  # fmt: skip
        widgets = {"text": forms.Textarea(attrs={"rows": 8, "cols": 100})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "html" in self.fields:  # a user who may only view gets no editable fields
            self.fields["html"].widget = html_widget()

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            _add_errors(
                self,
                template_errors(
                    subject=cleaned.get("subject", ""),
                    html=cleaned.get("html", ""),
                    text=cleaned.get("text", ""),
                    event_keys=cleaned.get("event_types", []),
                    purpose=cleaned.get("purpose", ""),
                ),
            )
            layout = cleaned.get("layout")
            if missing := unsubscribe_errors(
                purpose=cleaned.get("purpose", ""),
                html=cleaned.get("html", ""),
                layout_html=layout.html if layout is not None else "",
            ):
                self.add_error("html", missing)
        return cleaned


class TranslationForm(forms.ModelForm):
    class Meta:
        model = TemplateTranslation
        fields = ["locale", "subject", "html", "text"]
        widgets = {"html": CODE, "text": forms.Textarea(attrs={"rows": 6, "cols": 100})}


class TranslationFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        template = self.instance
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            if form.cleaned_data.get("locale") == template.default_locale:
                form.add_error("locale", "This is the template's default locale.")
            _add_errors(
                form,
                template_errors(
                    subject=form.cleaned_data.get("subject", ""),
                    html=form.cleaned_data.get("html", ""),
                    text=form.cleaned_data.get("text", ""),
                    event_keys=template.event_types,
                    purpose=template.purpose,
                ),
            )
            if missing := unsubscribe_errors(
                purpose=template.purpose,
                html=form.cleaned_data.get("html", ""),
                layout_html=template.layout.html if template.layout_id else "",
            ):
                form.add_error("html", missing)


class LayoutForm(forms.ModelForm):
    logo_url = forms.URLField(required=False, assume_scheme="https")
    website_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Layout
        fields = [
            "name", "html", "css", "brand_name", "logo_url", "primary_color", "support_email",
            "website_url", "address",
        ]  # fmt: skip
        widgets = {"html": CODE, "css": forms.Textarea(attrs={"rows": 12, "cols": 100})}

    def clean_html(self):
        html = self.cleaned_data["html"]
        errors = layout_errors(html=html)
        if errors:
            raise forms.ValidationError(errors)
        return html


class PreviewForm(forms.Form):
    version = forms.TypedChoiceField(
        coerce=int, error_messages={"invalid_choice": "There is no version %(value)s."}
    )
    event_type = forms.ChoiceField(
        label="Sample event",
        error_messages={"invalid_choice": "%(value)s is not an event type of this template."},
    )
    stored_event = forms.IntegerField(
        label="Stored event id",
        required=False,
        min_value=1,
        help_text="Optional: render with a real event's data instead of the sample.",
    )
    locale = forms.ChoiceField(
        required=False,
        error_messages={"invalid_choice": "No version of this template has locale %(value)s."},
    )

    def __init__(self, *args, template: Template, **kwargs):
        super().__init__(*args, **kwargs)
        self.versions = list(template.versions.order_by("-number"))
        self.fields["version"].choices = [
            (v.number, f"v{v.number}{' (active)' if v.pk == template.active_version_id else ''}")
            for v in self.versions
        ]
        keys = template.event_types or [key for key, _ in event_type_choices()]
        self.fields["event_type"].choices = [
            (key, label) for key, label in event_type_choices() if key in keys
        ]
        locales = sorted({loc for v in self.versions for loc in v.contents})
        self.fields["locale"].choices = [(loc, loc) for loc in locales]
        self.stored: tuple[str, dict] | None = None

    @classmethod
    def with_defaults(cls, data, *, template: Template) -> PreviewForm:
        """The form bound to `data` (a query), each field it leaves empty at its default: the
        active version (else the newest), the template's first event type, and the default
        locale of the version asked for. So `?version=3` alone shows version 3."""
        given = {name: data[name] for name in cls.base_fields if data.get(name)}
        blank = cls(template=template)
        by_number = {str(v.number): v for v in blank.versions}
        newest = blank.versions[0] if blank.versions else None
        version = by_number.get(str(given.get("version"))) or template.active_version or newest
        event_types = blank.fields["event_type"].choices
        defaults = {
            "version": version.number if version else "",
            "event_type": event_types[0][0] if event_types else "",
            "locale": version.default_locale if version else "",
        }
        return cls({**defaults, **given}, template=template)

    def query(self) -> str:
        """The choice as a query string, to show the same preview again."""
        names = ("version", "event_type", "locale", "stored_event")
        return urlencode({n: self.data[n] for n in names if self.data.get(n) not in (None, "")})

    def clean_stored_event(self):
        event_id = self.cleaned_data.get("stored_event")
        if event_id:
            self.stored = stored_event_context(event_id)
            if self.stored is None:
                raise forms.ValidationError(f"There is no stored event with id {event_id}.")
        return event_id

    def context(self) -> tuple[str, dict]:
        """(event type, variables) to render with: the stored event's, or the sample's."""
        if self.stored is not None:
            return self.stored
        event_type = self.cleaned_data["event_type"]
        return event_type, sample_context(event_type)


class SendTestForm(forms.Form):
    account = forms.ModelChoiceField(queryset=ProviderAccount.objects.none())
    to = forms.EmailField(label="Recipient")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only accounts whose client can send a single email.
        self.fields["account"].queryset = ProviderAccount.objects.filter(
            is_active=True, kind__in=kinds_that_can(Capability.SEND)
        )
