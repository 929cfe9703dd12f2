"""The segment admin form: conditions as rows (what, operator, value, days, reason, amounts),
never JSON by hand. Rows become the JSON of returns_mail.segments, which Segment.clean
validates; its errors name the condition (“Condition 2 (event refund.processed): ...”)."""

from __future__ import annotations

from django import forms

from returns_mail.models import Segment
from returns_mail.operators import CONDITION_OPERATORS
from returns_mail.segment_rules import CUSTOMER_FIELDS, OPERATORS_BY_KIND
from templates_lib.catalogue import event_type_choices

FIELD_HELP = {
    "locale": "language, e.g. de-DE",
    "tags": "returned, refunded, ...",
    "returns_count": "number of returns",
    "total_refunded": "sum of refunds",
    "marketing_consent": "true / false",
    "last_event_type": "e.g. refund.processed",
    "last_event_at": "ISO date, or days",
}
ROW_KEYS = ("subject", "op", "value", "days", "reason", "min_amount", "max_amount")
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def subject_choices() -> list:
    return [
        ("", "---------"),
        (
            "Customer field",
            [(f"field:{name}", f"{name} ({FIELD_HELP[name]})") for name in CUSTOMER_FIELDS],
        ),
        (
            "Had an event",
            [(f"event:{key}", f"event {key} — {label}") for key, label in event_type_choices()],
        ),
    ]


class SegmentConditionForm(forms.Form):
    """One condition: a customer field with operator and value (or days for last_event_at),
    or an event type with optional days, reason and amount bounds."""

    subject = forms.ChoiceField(label="what", required=False, choices=subject_choices)
    op = forms.ChoiceField(
        label="operator", required=False, choices=[("", "---------"), *CONDITION_OPERATORS.items()]
    )
    value = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 20}))
    days = forms.IntegerField(
        required=False, min_value=1, widget=forms.NumberInput(attrs={"style": "width: 5em"})
    )
    reason = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 14}))
    min_amount = forms.DecimalField(
        required=False, widget=forms.NumberInput(attrs={"style": "width: 6em"})
    )
    max_amount = forms.DecimalField(
        required=False, widget=forms.NumberInput(attrs={"style": "width: 6em"})
    )

    def condition(self) -> dict | None:
        """The row as stored in Segment.conditions; None for an empty or removed row."""
        data = self.cleaned_data
        filled = [data.get(key) not in (None, "") for key in ROW_KEYS]
        if data.get("DELETE") or not any(filled):
            return None
        kind, _, name = (data.get("subject") or "").partition(":")
        op, value = data.get("op") or "", (data.get("value") or "").strip()
        if kind == "event":
            condition: dict = {"event": name}
            if op or value:  # refused by validation, with the reason
                condition.update({"op": op, "value": value})
            if data.get("days") is not None:
                condition["within_days"] = data["days"]
            if (data.get("reason") or "").strip():
                condition["reason"] = data["reason"].strip()
            for key in ("min_amount", "max_amount"):
                if data.get(key) is not None:
                    condition[key] = str(data[key])
            return condition
        condition = {"field": name} if kind == "field" else {}
        if op:
            condition["op"] = op
        if data.get("days") is not None:
            condition["days_ago"] = data["days"]
        if value and op != "set":
            condition["value"] = _typed(name, op, value)
        return condition


def _typed(name: str, op: str, value: str):
    if op == "in":
        return [_typed(name, "eq", v.strip()) for v in value.split(",") if v.strip()]
    if CUSTOMER_FIELDS.get(name) == "bool" and value.lower() in TRUE | FALSE:
        return value.lower() in TRUE
    return value


SegmentConditionFormSet = forms.formset_factory(SegmentConditionForm, extra=3, can_delete=True)


def condition_rows(conditions: list) -> list[dict]:
    """Stored conditions as form rows (lists comma-separated)."""
    rows = []
    for condition in conditions if isinstance(conditions, list) else []:
        if not isinstance(condition, dict):
            continue
        if "event" in condition:
            rows.append(
                {
                    "subject": f"event:{condition['event']}",
                    "days": condition.get("within_days"),
                    "reason": condition.get("reason", ""),
                    "min_amount": condition.get("min_amount"),
                    "max_amount": condition.get("max_amount"),
                }
            )
            continue
        value = condition.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        rows.append(
            {
                "subject": f"field:{condition.get('field', '')}",
                "op": condition.get("op", ""),
                "value": str(value),
                "days": condition.get("days_ago"),
            }
        )
    return rows


def operators_by_field() -> list[tuple[str, str]]:
    return [(name, ", ".join(OPERATORS_BY_KIND[kind])) for name, kind in CUSTOMER_FIELDS.items()]


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "match"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conditions = SegmentConditionFormSet(
            self.data if self.is_bound else None,
            prefix="conditions",
            initial=condition_rows(self.instance.conditions),
        )

    def operators_by_field(self) -> list[tuple[str, str]]:
        return operators_by_field()

    def clean(self):
        cleaned = super().clean()
        if not self.conditions.is_valid():
            for number, row in enumerate(self.conditions.forms, start=1):
                for name, messages in row.errors.items():
                    label = row.fields[name].label or name if name in row.fields else name
                    self.add_error(None, f"Condition row {number}, {label}: {' '.join(messages)}")
            return cleaned
        conditions = [row.condition() for row in self.conditions.forms]
        # Segment.clean (called next, by the model form) validates the conditions.
        self.instance.conditions = [c for c in conditions if c is not None]
        return cleaned
