"""Provider accounts, clients, webhook checks and the ESP sandbox."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        from providers import checks  # noqa: F401 - registers the system checks
