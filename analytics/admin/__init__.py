"""The analytics admin: one module per area (webhook deliveries; alerts and health checks)."""

from analytics.admin import alerts, deliveries  # noqa: F401 - each registers its admins
