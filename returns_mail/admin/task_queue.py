"""The task queue's pages (django-q2's own admin, narrowed).

Schedules, queued tasks and results name a function the cluster runs, so only superusers may
write them, and the schedule form offers only this project's task entry points, to superusers
too. IT admins read everything and may delete failed tasks (their rows are only a record: the
sweeps re-queue whatever work is still due).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from config.task_guard import task_entry_points


def _entry_point_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(path, path) for path in sorted(task_entry_points())]
    return [("", blank), *choices] if blank is not None else choices


class ScheduleForm(forms.ModelForm):
    func = forms.ChoiceField(
        label="Function",
        choices=_entry_point_choices,
        help_text="One of this project's task entry points; nothing else can be scheduled.",
    )
    hook = forms.ChoiceField(
        label="Result hook", choices=lambda: _entry_point_choices("(none)"), required=False
    )

    class Meta:
        model = Schedule
        fields = (
            *("name", "func", "hook", "args", "kwargs", "schedule_type", "minutes"),
            *("repeats", "next_run", "cron", "cluster", "intended_date_kwarg"),
        )


class SuperuserWritesMixin:
    """Adding and changing rows that name code: superusers only, whatever the permissions."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)


def _resubmit(model_admin, request, queryset):
    q_admin.resubmit_task(model_admin, request, queryset)


_resubmit.short_description = q_admin.resubmit_task.short_description
_resubmit.allowed_permissions = ("change",)


class ScheduleAdmin(SuperuserWritesMixin, q_admin.ScheduleAdmin):
    form = ScheduleForm


class SuccessAdmin(SuperuserWritesMixin, q_admin.TaskAdmin):
    actions = [_resubmit]


class FailureAdmin(SuperuserWritesMixin, q_admin.FailAdmin):
    actions = [_resubmit]


class QueueAdmin(SuperuserWritesMixin, q_admin.QueueAdmin):
    pass


for model, model_admin in (
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueueAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)
