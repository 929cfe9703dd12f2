"""Input: one event, strictly typed (no coercion of 123 to "123", nor "yes" to true; unknown keys
rejected), `data` checked against the catalogue. Output: the shapes the GET endpoints answer."""

from __future__ import annotations

import re
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from returns_mail.api.event_data import ValueInvalid, parse_aware_datetime, validate_data
from returns_mail.models import MessageRefusal, MessageStatus
from returns_mail.services.events import EventInput
from templates_lib.catalogue import CATALOGUE

_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


def unknown_type_message(value: str) -> str:
    return f'Unknown event type "{value}". Known types: {", ".join(CATALOGUE)}.'


# --- strict fields ------------------------------------------------------------------------------
class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Expected a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Expected true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset; a naive value is refused, not silently put in UTC."""

    def to_internal_value(self, value):
        try:
            return parse_aware_datetime(value)
        except ValueInvalid as exc:
            raise serializers.ValidationError(str(exc)) from None


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "The fields of the event's type (see the catalogue in the API description "
        "and the request examples). Unknown keys are refused. Decimals are answered as strings "
        '("49.90"); dates as YYYY-MM-DD; date-times as ISO 8601 with an offset, in the years '
        "1970 to 2099 (UTC).",
    }
)
class EventDataField(serializers.Field):
    default_error_messages = {"invalid": "Expected an object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not declare, reported with the other errors."""

    default_error_messages = {"invalid": "Expected an object."}

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            known = ", ".join(self.fields)
            unknown = {
                key: [f"Unknown field (known here: {known})."]
                for key in data
                if key not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


@extend_schema_field({"type": "string", "enum": list(CATALOGUE)})
class EventTypeField(StrictCharField):
    """The event type: validated by EventSerializer.validate_type (an unknown one is answered
    with the known types); documented as the catalogue's enum."""


# --- input --------------------------------------------------------------------------------------
class CustomerSerializer(StrictSerializer):
    email = StrictEmailField(max_length=254)
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    first_name = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Accepted and ignored: templates derive it from `name`.",
    )
    locale = StrictCharField(
        max_length=16,
        required=False,
        allow_blank=True,
        default="",
        help_text="Language for the email, e.g. en, fr-CA.",
    )
    marketing_consent = StrictBooleanField(required=False, default=False)

    def validate_locale(self, value: str) -> str:
        if value and not _LOCALE.match(value):
            raise serializers.ValidationError("Expected a language tag, e.g. en, fr-CA.")
        return value


class EventSerializer(StrictSerializer):
    type = EventTypeField(max_length=64, help_text="An event type of the catalogue.")
    occurred_at = AwareDateTimeField(
        help_text="When it happened: ISO 8601 with an offset, in the years 1970 to 2099 (UTC)."
    )
    return_id = StrictCharField(max_length=100, help_text="The return (RMA) number.")
    order_id = StrictCharField(max_length=100, help_text="The original order number.")
    customer = CustomerSerializer()
    event_id = StrictCharField(
        max_length=255,
        required=False,
        help_text="Your id of the event; the idempotency key when no Idempotency-Key header "
        "is sent.",
    )
    data = EventDataField(required=False, default=dict)

    def validate_type(self, value: str) -> str:
        if value not in CATALOGUE:
            raise serializers.ValidationError(unknown_type_message(value), code="unknown_type")
        return value

    def validate_data(self, value: dict) -> dict:
        event_type = self.initial_data.get("type") if isinstance(self.initial_data, dict) else None
        if not isinstance(event_type, str) or event_type not in CATALOGUE:
            return value  # the type's own error is reported
        clean, errors = validate_data(CATALOGUE[event_type], value)
        if errors:
            raise serializers.ValidationError(errors)
        return clean


class EventValidator:
    """Validates events one after another with a single EventSerializer.

    DRF deep-copies a serializer's declared fields for every instance, which costs more than
    validating an event; a batch of 100 would pay it 100 times. Not thread-safe: one per
    request (or thread)."""

    def __init__(self):
        self._serializer = EventSerializer()

    def __call__(self, body) -> tuple[EventInput, str | None]:
        """(the event, its own event_id) or ValidationError with every bad field."""
        serializer = self._serializer
        serializer.initial_data = body  # read by validate_data for the event's type
        try:
            values = serializer.run_validation(body)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        finally:
            del serializer.initial_data
        customer = values["customer"]
        event = EventInput(
            type=values["type"],
            occurred_at=values["occurred_at"],
            return_id=values["return_id"],
            order_id=values["order_id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            customer_locale=customer["locale"],
            marketing_consent=customer["marketing_consent"],
            data=values["data"],
        )
        return event, values.get("event_id")


# --- output -------------------------------------------------------------------------------------
class AcceptedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.CharField(allow_null=True, help_text="The trigger rule's name.")
    recipient = serializers.EmailField()
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    reason = serializers.ChoiceField(
        choices=MessageRefusal.choices,
        allow_null=True,
        help_text='Why the message will not be sent (it is "suppressed": promotional mail '
        "without marketing consent, to an address suppressed for promotional mail, or with no "
        "account of the rule's route that sends promotional mail); null when not refused.",
    )
    reason_text = serializers.CharField(
        allow_null=True, help_text="The reason in words; null when not refused."
    )


class EventAcceptedSerializer(serializers.Serializer):
    """The answer to an accepted event; a repeat gets the same messages, with current statuses."""

    id = serializers.IntegerField()
    type = serializers.CharField()
    return_id = serializers.CharField()
    received_at = serializers.DateTimeField()
    messages = AcceptedMessageSerializer(many=True)


class TemplateRefSerializer(serializers.Serializer):
    slug = serializers.CharField(source="template.slug")
    name = serializers.CharField(source="template.name")
    version = serializers.IntegerField(source="number")


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    event_type = serializers.CharField(source="event.type")
    rule = serializers.CharField(source="rule.name", allow_null=True)
    recipient = serializers.EmailField()
    template = TemplateRefSerializer(source="template_version")
    account = serializers.CharField(
        source="account.name", allow_null=True, help_text="The provider account that sent it."
    )
    provider_message_id = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    reason = serializers.SerializerMethodField(
        help_text="Why the message was not sent (a refusal code, as in the event's answer); "
        "null when it was not refused."
    )
    status_changed_at = serializers.DateTimeField()
    send_after = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    resend_of = serializers.IntegerField(source="resend_of_id", allow_null=True)

    @extend_schema_field({"type": "string", "enum": MessageRefusal.values, "nullable": True})
    def get_reason(self, message) -> str | None:
        return message.refusal or None


class CustomerOutSerializer(serializers.Serializer):
    email = serializers.EmailField(source="customer_email")
    name = serializers.CharField(source="customer_name")
    locale = serializers.CharField(source="customer_locale")
    marketing_consent = serializers.BooleanField()


class EventDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    return_id = serializers.CharField()
    order_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    customer = CustomerOutSerializer(source="*")
    data = EventDataField()
    messages = MessageSerializer(many=True)


class ReturnMessagesSerializer(serializers.Serializer):
    return_id = serializers.CharField()
    messages = MessageSerializer(many=True)
