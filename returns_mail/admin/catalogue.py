"""Event types on/off (one page listing the whole catalogue) and the provider-account circuits
(the alert record of an account that keeps failing)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

from config.admin_base import ViewOnlyAdmin
from returns_mail.forms.catalogue import EventTypeSwitchForm
from returns_mail.models import AccountCircuit, EventTypeSetting


@admin.register(EventTypeSetting)
class EventTypeSettingAdmin(admin.ModelAdmin):
    """The list page is the switchboard: every catalogue type with an on/off box (a type
    without a setting row is on). Saving writes the types whose box changed."""

    fields = ("event_type", "enabled", "updated_at")
    readonly_fields = ("event_type", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        may_change = self.has_change_permission(request) and request.user.has_perm(
            "returns_mail.add_eventtypesetting"
        )
        if request.method == "POST":
            if not may_change:
                raise PermissionDenied
            form = EventTypeSwitchForm(request.POST)
            if form.is_valid():
                changed = form.save()
                self._report(request, changed)
                return HttpResponseRedirect(request.path)
        else:
            form = EventTypeSwitchForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Event types: switch on or off",
            "opts": self.model._meta,
            "form": form,
            "may_change": may_change,
            **(extra_context or {}),
        }
        return TemplateResponse(
            request, "admin/returns_mail/eventtypesetting/switchboard.html", context
        )

    def _report(self, request, changed: dict[str, bool]) -> None:
        if not changed:
            self.message_user(request, "Nothing changed.")
            return
        for enabled, verb in ((True, "on"), (False, "off")):
            keys = [key for key, state in changed.items() if state is enabled]
            if keys:
                self.message_user(request, f"Switched {verb}: {', '.join(keys)}.", messages.SUCCESS)


@admin.register(AccountCircuit)
class AccountCircuitAdmin(ViewOnlyAdmin):
    list_display = (
        "account",
        "state",
        "consecutive_failures",
        "opened_at",
        "open_until",
        "last_error_excerpt",
    )
    list_select_related = ("account",)
    search_fields = ("account__name",)
    fields = ("account", "state", "consecutive_failures", "opened_at", "open_until", "last_error")
    readonly_fields = fields

    @admin.display(description="state")
    def state(self, circuit) -> str:
        if circuit.open_until and circuit.open_until > timezone.now():
            return "open: skipped, rules fail over"
        return "closed: in use"

    @admin.display(description="last error")
    def last_error_excerpt(self, circuit) -> str:
        text = circuit.last_error
        return text if len(text) <= 120 else text[:119] + "…"
