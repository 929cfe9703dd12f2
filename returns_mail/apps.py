"""Return events, trigger rules, the outbox and the REST API."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using, **kwargs):
    from returns_mail.services.roles import roles_sync

    roles_sync(using=using)


class ReturnsMailConfig(AppConfig):
    name = "returns_mail"
    verbose_name = "Returns mail"

    def ready(self):
        post_migrate.connect(_sync_roles, dispatch_uid="returns_mail.roles_sync")
        from returns_mail.services import config_cache  # noqa: F401 - connects its signals
