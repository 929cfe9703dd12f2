"""Only this project's task entry points run on the cluster.

A django-q2 task names its function by dotted path, and the cluster imports and calls whatever
it names: a schedule row saying `os.system` would run a shell command with the worker's
environment (the encryption key, every provider secret). So every task is checked as it is
queued (django-q2's `pre_enqueue` signal, which the scheduler's tasks pass through too): a
function that is not a public function of one of our apps' `tasks` modules is replaced by
`refused`, which fails with the name, so the attempt shows up as a failed task and runs nothing.
The schedule admin offers only these functions in the first place.
"""

from __future__ import annotations

import inspect
import logging
from functools import cache
from importlib import import_module

from django.conf import settings
from django_q.utils import get_func_repr

logger = logging.getLogger(__name__)


@cache
def task_entry_points() -> frozenset[str]:
    """Dotted paths of the public functions defined in each project app's `tasks` module."""
    paths = set()
    for app in settings.PROJECT_APPS:
        try:
            module = import_module(f"{app}.tasks")
        except ModuleNotFoundError as error:
            if error.name != f"{app}.tasks":
                raise
            continue
        for name, value in vars(module).items():
            public = not name.startswith("_")
            if public and inspect.isfunction(value) and value.__module__ == module.__name__:
                paths.add(f"{module.__name__}.{name}")
    return frozenset(paths)


def is_task_entry_point(func) -> bool:
    return get_func_repr(func) in task_entry_points()


def refuse_unlisted_tasks(sender, task: dict, **kwargs) -> None:
    """`pre_enqueue` receiver: swap a function (or result hook) we do not know for `refused`."""
    func = get_func_repr(task["func"])
    if not is_task_entry_point(func):
        logger.warning("Refused to queue %s: not a task entry point of this project", func)
        task.update(func="config.task_guard.refused", args=(func,), kwargs={})
    hook = task.get("hook")
    if hook and not is_task_entry_point(hook):
        logger.warning("Dropped the result hook %s: not a task entry point", get_func_repr(hook))
        task["hook"] = None


def refused(func: str) -> None:
    raise PermissionError(f"{func} is not a task entry point of this project; nothing was run")
