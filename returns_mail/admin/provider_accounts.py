"""The provider account admin, extended with what returns_mail keeps per account: the import of
its own suppression lists (when it last ran and how many it added, shown on the change page; an
"Import suppressions now" action), and an import queued when an account is connected (added,
made active again, or given a new API key).

`providers` cannot know of returns_mail (the import layers), so its admin is registered again
here as a subclass: providers' admin module is imported first (INSTALLED_APPS order)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from providers.admin import ProviderAccountAdmin
from providers.models import ProviderAccount
from returns_mail.models import SuppressionImport
from returns_mail.services.suppression_import import suppressions_import_on_commit


class ProviderAccountWithSuppressionsAdmin(ProviderAccountAdmin):
    actions = (*ProviderAccountAdmin.actions, "import_suppressions_now")
    readonly_fields = (*ProviderAccountAdmin.readonly_fields, "suppression_import")
    fieldsets = (
        *ProviderAccountAdmin.fieldsets,
        ("Suppression import (the provider's own lists)", {"fields": ("suppression_import",)}),
    )

    @admin.display(description="last import")
    def suppression_import(self, account) -> str:
        state = None
        if account.pk:
            state = SuppressionImport.objects.filter(account_id=account.pk).first()
        if state is None:
            return "never imported"
        parts = []
        if state.last_finished_at:
            when = timezone.localtime(state.last_finished_at).strftime("%Y-%m-%d %H:%M")
            parts.append(f"last complete {when}")
        else:
            parts.append("never complete")
        parts.append(
            f"last run read {state.last_read}, added {state.last_added}; "
            f"{state.total_added} added in all"
        )
        if state.running_until and state.running_until > timezone.now():
            parts.append("running now")
        if state.retry_at:
            when = timezone.localtime(state.retry_at).strftime("%Y-%m-%d %H:%M")
            parts.append(f"paused, again at {when}")
        if state.error:
            parts.append(f"last error: {state.error[:300]}")
        return " · ".join(parts)

    @admin.action(description="Import suppressions now", permissions=["change"])
    def import_suppressions_now(self, request, queryset):
        queued = [account for account in queryset if suppressions_import_on_commit(account)]
        if queued:
            names = ", ".join(account.name for account in queued)
            self.message_user(request, f"Suppression import queued for {names}.", messages.SUCCESS)
        left = len(queryset) - len(queued)
        if left:
            self.message_user(
                request,
                f"{left} account(s) not imported: inactive, or their provider keeps no "
                "suppression lists we can read.",
                messages.WARNING,
            )

    def save_model(self, request, obj, form, change):
        was_active = change and ProviderAccount.objects.filter(pk=obj.pk, is_active=True).exists()
        new_key = bool(form.secrets().get("api_key"))
        super().save_model(request, obj, form, change)
        # Connected: added, made active again, or given a new API key (another account, maybe).
        if obj.is_active and (not was_active or new_key):
            suppressions_import_on_commit(obj, from_scratch=new_key)


admin.site.unregister(ProviderAccount)
admin.site.register(ProviderAccount, ProviderAccountWithSuppressionsAdmin)
