"""Delivery events, dashboards, uptime and alerts."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from django.core.checks import register

        from config.public_url import public_base_url_check

        # The public base URL makes the links of the emails this app sends (alerts).
        register(public_base_url_check)
        from analytics.services import (
            erasure,  # noqa: F401 - erases customers' events
            rollups,  # noqa: F401 - counts sends (message_transitioned)
            subject_access,  # noqa: F401 - adds delivery events to customer exports
        )
