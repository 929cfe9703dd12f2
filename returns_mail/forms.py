"""Admin forms of returns_mail: trigger rules without code, the rule trial, API clients,
suppression and the event-type switch. Every error names the condition, address or account."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Count

from providers.clients import Capability, kinds_that_can
from returns_mail.conditions import conditions_errors
from returns_mail.models import (
    ApiClient,
    EventTypeSetting,
    ReturnEvent,
    RoutingMode,
    Suppression,
    TriggerRule,
)
from returns_mail.models.api_clients import SCOPES
from returns_mail.models.rules import CONDITION_OPERATORS
from returns_mail.services.events import event_types_switch
from templates_lib.catalogue import CATALOGUE, allowed_variables, event_type_choices
from templates_lib.models import TemplateVersion

SCOPE_LABELS = {
    "events:write": "events:write — post return events",
    "messages:read": "messages:read — read what was sent",
}


def labelled_event_types() -> list[tuple[str, str]]:
    return [(key, f"{key} — {label}") for key, label in event_type_choices()]


def condition_fields(event_type: str) -> list[str]:
    """The paths a condition on an event of `event_type` may test. The brand comes from the
    template's layout, not from the event, so conditions cannot use it."""
    return sorted(
        path
        for path in allowed_variables([event_type])
        if path != "brand" and not path.startswith("brand.")
    )


# --- trigger rules ------------------------------------------------------------------------------
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
        event_type, template = cleaned.get("event_type"), cleaned.get("template")
        pinned = cleaned.get("pinned_version")
        if template and pinned and pinned.template_id != template.pk:
            self.add_error(
                "pinned_version",
                f"{pinned.template.name} v{pinned.number} is a version of another template; "
                f"choose a version of “{template.name}” or leave it empty.",
            )
        elif template and not pinned and template.active_version_id is None:
            self.add_error(
                "template", f"“{template.name}” has no active version: publish one or pin one."
            )
        if template and template.event_types and event_type not in (None, *template.event_types):
            self.add_error(
                "template",
                f"“{template.name}” is made for {', '.join(template.event_types)}, not for "
                f"{event_type}: choose a template for {event_type}.",
            )
        no_one = not cleaned.get("send_to_customer") and not cleaned.get("internal_recipients")
        if no_one and "internal_recipients" not in self.errors:
            self.add_error(None, "Send to the customer, or add at least one internal recipient.")
        conditions = self._clean_conditions(event_type)
        for message in self.condition_errors:
            self.add_error(None, message)
        self.instance.conditions = conditions
        return cleaned

    def _clean_conditions(self, event_type: str | None) -> list[dict]:
        if not self.conditions.is_valid():
            self.condition_errors.append("The conditions could not be read; please try again.")
            return []
        allowed = set(condition_fields(event_type)) if event_type else None
        conditions = []
        for number, row in enumerate(self.conditions.forms, start=1):
            condition = row.condition()
            if condition is None:
                continue
            conditions.append(condition)
            errors = [
                f"Condition {number}{message.removeprefix('Condition 1')}"
                for message in conditions_errors([condition])
            ]
            field = condition.get("field")
            if field and allowed is not None and field not in allowed:
                errors.append(
                    f"Condition {number}: {event_type} events have no field “{field}”. "
                    f"Fields: {', '.join(sorted(allowed))}."
                )
            if condition.get("op") == "in" and condition.get("value") == []:
                errors.append(f"Condition {number} needs at least one value (comma-separated).")
            self.condition_errors.extend(errors)
        return conditions


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
        if not any(row["account"].is_active for row in rows):
            raise ValidationError("Add at least one active provider account to the route.")
        mode = self.instance.routing
        if mode == RoutingMode.SINGLE and len(rows) != 1:
            raise ValidationError(
                f"“One account” routing takes exactly one account, not {len(rows)}: remove the "
                "others, or choose a failover chain or a weighted split."
            )
        if mode == RoutingMode.WEIGHTED:
            zero = [row["account"].name for row in rows if not row.get("weight")]
            if zero:
                raise ValidationError(
                    f"In a weighted split every account needs a weight above 0: {', '.join(zero)}."
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


# --- API clients, suppression -------------------------------------------------------------------
class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, SCOPE_LABELS.get(scope, scope)) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the client may do.",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "scopes", "rate_limit_per_minute", "is_active"]


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["email", "reason", "scope", "note"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


# --- event types --------------------------------------------------------------------------------
def _switch_name(key: str) -> str:
    return "on_" + key.replace(".", "__")


class EventTypeSwitchForm(forms.Form):
    """One on/off box per catalogue event type (a type without a setting row is on)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = dict(EventTypeSetting.objects.values_list("event_type", "enabled"))
        for key, event in CATALOGUE.items():
            self.fields[_switch_name(key)] = forms.BooleanField(
                label=event.label, required=False, initial=stored.get(key, True)
            )

    def rows(self) -> list[dict]:
        counts = dict(
            TriggerRule.objects.filter(enabled=True)
            .values("event_type")
            .annotate(n=Count("pk"))
            .values_list("event_type", "n")
        )
        return [
            {
                "key": key,
                "event": event,
                "switch": self[_switch_name(key)],
                "rules": counts.get(key, 0),
            }
            for key, event in CATALOGUE.items()
        ]

    def save(self) -> dict[str, bool]:
        """Write the types whose switch changed (one statement); returns {type: enabled}."""
        changed = {
            key: self.cleaned_data[_switch_name(key)]
            for key in CATALOGUE
            if _switch_name(key) in self.changed_data
        }
        event_types_switch(changes=changed)
        return changed
