from analytics.models.alerts import Alert, AlertKind, AlertRule
from analytics.models.dashboard import Dashboard
from analytics.models.deliveries import DeliveryEvent, WebhookDelivery, WebhookDeliveryStatus
from analytics.models.health import CheckSource, HealthCheck, HealthComponent
from analytics.models.replies import Reply
from analytics.models.rollups import LatencyBin, Period, Rollup

__all__ = [
    "Alert",
    "AlertKind",
    "AlertRule",
    "CheckSource",
    "Dashboard",
    "DeliveryEvent",
    "HealthCheck",
    "HealthComponent",
    "LatencyBin",
    "Period",
    "Reply",
    "Rollup",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
]
