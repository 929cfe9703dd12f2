"""django-q2 entry points of the template library: each takes an id and calls one service."""

from templates_lib.services import sync


def push_template_sync(sync_id: int) -> None:
    sync.template_sync_push(sync_id=sync_id)


def sweep_template_syncs() -> int:
    return sync.template_sync_sweep()
