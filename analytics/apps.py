"""Delivery events, dashboards, uptime and alerts."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from analytics.services import (
            erasure,  # noqa: F401 - erases customers' events
            rollups,  # noqa: F401 - counts sends (message_finished)
        )
