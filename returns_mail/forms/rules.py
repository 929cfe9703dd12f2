"""Admin forms of trigger rules: rules without code (conditions as rows, the routes) and the
rule trial. Every error names the condition, address or account."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email

from providers.clients import Capability, kinds_that_can
from returns_mail.models import ReturnEvent, TriggerRule
from returns_mail.operators import CONDITION_OPERATORS
from returns_mail.services.rules import condition_fields, routes_validate, rule_validate
from templates_lib.catalogue import CATALOGUE, event_type_choices
from templates_lib.models import TemplateVersion


def labelled_event_types() -> list[tuple[str, str]]:
    return [(key, f"{key} — {label}") for key, label in event_type_choices()]


class ConditionForm(forms.Form):
    """One row of a rule's conditions. Validated as a whole by `conditions_errors`."""

    field = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"list": "condition-fields", "size": 30}),
    )
    op = forms.CharField(
        label="operator",
        required=False,
        widget=forms.Select(choices=[("", "---------"), *CONDITION_OPERATORS.items()]),
    )
    value = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 30}))

    def condition(self) -> dict | None:
        """The row as stored in TriggerRule.conditions; None for an empty or removed row."""
        data = self.cleaned_data
        field, op, value = data.get("field", ""), data.get("op", ""), data.get("value", "")
        if data.get("DELETE") or not (field or op or value):
            return None
        condition: dict = {"op": op} if op else {}
        if field:
            condition["field"] = field.strip()
        if op == "in":
            condition["value"] = [v.strip() for v in value.split(",") if v.strip()]
        elif op != "set" and value.strip():
            condition["value"] = value.strip()
        return condition


ConditionFormSet = forms.formset_factory(ConditionForm, extra=2, can_delete=True)


def condition_rows(conditions: list[dict]) -> list[dict]:
    """A rule's stored conditions as form rows ("is one of" values comma-separated)."""
    rows = []
    for condition in conditions:
        value = condition.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append(
            {
                "field": condition.get("field", ""),
                "op": condition.get("op", ""),
                "value": str(value),
            }
        )
    return rows


class TriggerRuleForm(forms.ModelForm):
    event_type = forms.ChoiceField(choices=labelled_event_types)
    internal_recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 50}),
        help_text="Fixed addresses (e.g. the warehouse team), one per line.",
    )
    cancel_on = forms.MultipleChoiceField(
        choices=labelled_event_types,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Cancel if",
        help_text="A later event of these types for the same return cancels this rule's "
        "messages that are still waiting (e.g. return.received cancels a reminder).",
    )
    pinned_version = forms.ModelChoiceField(
        queryset=TemplateVersion.objects.select_related("template").order_by(
            "template__name", "-number"
        ),
        required=False,
        help_text="Empty: the template's active version when the event arrives. A pinned "
        "version must be one of the chosen template's versions.",
    )

    class Meta:
        model = TriggerRule
        fields = [
            "name", "event_type", "enabled", "priority", "match", "template", "pinned_version",
            "use_provider_template", "send_to_customer", "internal_recipients", "delay_minutes",
            "cancel_on", "routing",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pinned_version"].label_from_instance = lambda v: (
            f"{v.template.name} — v{v.number}"
        )
        if not self.is_bound:
            self.initial["internal_recipients"] = "\n".join(self.instance.internal_recipients)
        self.conditions = ConditionFormSet(
            self.data if self.is_bound else None,
            prefix="conditions",
            initial=condition_rows(self.instance.conditions),
        )
        self.condition_errors: list[str] = []

    def field_paths(self) -> list[str]:
        """Every path any event type provides (the suggestions of the field box)."""
        return sorted({p for key in CATALOGUE for p in condition_fields(key)})

    def fields_by_type(self) -> list[tuple[str, list[str]]]:
        return [(key, condition_fields(key)) for key in CATALOGUE]

    def clean_internal_recipients(self) -> list[str]:
        emails, seen, bad = [], set(), []
        for line in self.cleaned_data["internal_recipients"].splitlines():
            email = line.strip()
            if not email or email.lower() in seen:
                continue
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
            seen.add(email.lower())
            emails.append(email)
        if bad:
            raise ValidationError(f"Not an email address: {', '.join(bad)}.")
        return emails

    def clean(self):
        cleaned = super().clean()
        event_type = cleaned.get("event_type")
        conditions = self._conditions()
        try:
            rule_validate(
                event_type=event_type,
                template=cleaned.get("template"),
                pinned_version=cleaned.get("pinned_version"),
                send_to_customer=bool(cleaned.get("send_to_customer")),
                # None when the addresses could not be read (that field already says why).
                internal_recipients=cleaned.get("internal_recipients"),
                conditions=[] if conditions is None else conditions,
            )
        except ValidationError as error:
            errors = error.message_dict
            # Condition errors show above the condition rows as well as at the top.
            self.condition_errors = errors.pop("conditions", [])
            for field, messages in errors.items():
                for message in messages:
                    self.add_error(None if field == NON_FIELD_ERRORS else field, message)
        if conditions is None:
            self.condition_errors.append("The conditions could not be read; please try again.")
        for message in self.condition_errors:
            self.add_error(None, message)
        self.instance.conditions = conditions or []
        return cleaned

    def _conditions(self) -> list[dict] | None:
        """The condition rows as stored in TriggerRule.conditions; None if unreadable."""
        if not self.conditions.is_valid():
            return None
        rows = (row.condition() for row in self.conditions.forms)
        return [condition for condition in rows if condition is not None]


class RouteFormSet(forms.BaseInlineFormSet):
    """The rule's provider accounts, checked against its routing mode."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "account" in form.fields:
            # A route sends one email at a time: only accounts whose client can.
            form.fields["account"].queryset = form.fields["account"].queryset.filter(
                kind__in=kinds_that_can(Capability.SEND)
            )

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        # The rule form's values are on the instance already: a template changed together
        # with the route is judged against the new route.
        template = self.instance.template if self.instance.template_id else None
        routes_validate(
            routing=self.instance.routing,
            routes=[(row["account"], row.get("weight")) for row in rows],
            template=template,
        )


class RuleTrialForm(forms.Form):
    """What to try a rule against: a catalogue sample, or a stored event."""

    sample = forms.ChoiceField(label="Sample event", choices=labelled_event_types, required=False)
    event_id = forms.IntegerField(
        label="Stored event id",
        required=False,
        min_value=1,
        help_text="Optional: a real event (see Return events); empty: the sample above.",
    )

    def clean(self):
        cleaned = super().clean()
        event_id = cleaned.get("event_id")
        if event_id:
            cleaned["event"] = ReturnEvent.objects.filter(pk=event_id).first()
            if cleaned["event"] is None:
                self.add_error("event_id", f"There is no stored event with id {event_id}.")
        elif not cleaned.get("sample"):
            self.add_error("sample", "Choose a sample event or give a stored event id.")
        return cleaned
