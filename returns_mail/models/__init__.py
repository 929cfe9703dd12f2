"""Models of returns_mail: API clients, return events, trigger rules, the outbox, suppression."""

from returns_mail.models.api_clients import ApiClient
from returns_mail.models.events import EventTypeSetting, ReturnEvent
from returns_mail.models.outbox import AccountCircuit, Attempt, Message, MessageStatus
from returns_mail.models.rules import RoutingMode, RuleAccount, TriggerRule
from returns_mail.models.suppression import Suppression, SuppressionReason, SuppressionScope

__all__ = [
    "AccountCircuit",
    "ApiClient",
    "Attempt",
    "EventTypeSetting",
    "Message",
    "MessageStatus",
    "ReturnEvent",
    "RoutingMode",
    "RuleAccount",
    "Suppression",
    "SuppressionReason",
    "SuppressionScope",
    "TriggerRule",
]
