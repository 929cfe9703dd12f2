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
        from django_q.signals import pre_enqueue

        from config.task_guard import refuse_unlisted_tasks

        post_migrate.connect(_sync_roles, dispatch_uid="returns_mail.roles_sync")
        # Every task queued in any process (the cluster's scheduler too) runs one of our task
        # entry points or nothing.
        pre_enqueue.connect(refuse_unlisted_tasks, dispatch_uid="config.task_guard")
        from returns_mail.services import config_cache  # noqa: F401 - connects its signals
        from returns_mail.stored_events import stored_event_context
        from templates_lib.stored_events import register_stored_event_reader

        # The template preview renders stored events; templates_lib cannot import returns_mail.
        register_stored_event_reader(stored_event_context)
