"""Models of returns_mail: API clients, return events, trigger rules, the outbox, suppression,
customers, segments and campaigns."""

from returns_mail.models.api_clients import ApiClient
from returns_mail.models.audit import AuditEntry
from returns_mail.models.campaigns import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
    RecipientStatus,
)
from returns_mail.models.consent import ConsentRecord, ConsentSource
from returns_mail.models.customers import AudienceMember, Customer, MemberStatus
from returns_mail.models.erasure import AudienceErasure, AudienceErasureStatus
from returns_mail.models.events import EventTypeSetting, ReturnEvent
from returns_mail.models.outbox import (
    AccountCircuit,
    Attempt,
    Message,
    MessageRefusal,
    MessageStatus,
)
from returns_mail.models.rules import RoutingMode, RuleAccount, TriggerRule
from returns_mail.models.segments import Segment
from returns_mail.models.suppression import (
    Suppression,
    SuppressionImport,
    SuppressionReason,
    SuppressionScope,
)

__all__ = [
    "AccountCircuit",
    "ApiClient",
    "Attempt",
    "AudienceErasure",
    "AudienceErasureStatus",
    "AudienceMember",
    "AuditEntry",
    "Campaign",
    "CampaignChunk",
    "CampaignRecipient",
    "CampaignStatus",
    "ChunkStatus",
    "ConsentRecord",
    "ConsentSource",
    "Customer",
    "EventTypeSetting",
    "MemberStatus",
    "Message",
    "MessageRefusal",
    "MessageStatus",
    "RecipientStatus",
    "ReturnEvent",
    "RoutingMode",
    "RuleAccount",
    "Segment",
    "Suppression",
    "SuppressionImport",
    "SuppressionReason",
    "SuppressionScope",
    "TriggerRule",
]
