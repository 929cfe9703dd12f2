"""The suppression list: who must not get mail. New entries go through suppression_add."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from returns_mail.forms.suppression import SuppressionCsvImportForm, SuppressionForm
from returns_mail.models import Suppression
from returns_mail.services.suppression import suppression_add
from returns_mail.services.suppression_csv import (
    suppression_source,
    suppressions_csv_check,
    suppressions_csv_import,
    suppressions_csv_lines,
)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    change_list_template = "admin/returns_mail/suppression/change_list.html"
    list_display = ("email", "reason", "scope", "note", "source", "created_at")
    list_filter = ("reason", "scope", "source_account")
    list_select_related = ("created_by", "source_account")
    search_fields = ("email", "note")
    date_hierarchy = "created_at"
    fields = ("email", "reason", "scope", "note", "source", "created_at")
    readonly_fields = ("source", "created_at")

    @admin.display(description="source")
    def source(self, suppression) -> str:
        """Who added it: a person, or the account that reported it (webhook or its lists)."""
        return suppression_source(suppression) or "—"

    def get_changeform_initial_data(self, request):
        return {"reason": "manual", **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        added = suppression_add(
            email=obj.email, reason=obj.reason, scope=obj.scope, note=obj.note, actor=request.user
        )
        # The admin logs and redirects with `obj`: make it the stored row.
        obj.pk, obj.email, obj.created_by, obj.created_at = (
            added.pk,
            added.email,
            added.created_by,
            added.created_at,
        )
        obj._state.adding = False

    # --- CSV -------------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "export-csv/",
                self.admin_site.admin_view(self.export_csv_view),
                name="returns_mail_suppression_export_csv",
            ),
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="returns_mail_suppression_import_csv",
            ),
            *super().get_urls(),
        ]

    def export_csv_view(self, request):
        """The list as filtered and searched on the list page (the same query string)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(
            suppressions_csv_lines(queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="suppressions-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def import_csv_view(self, request):
        """GET: the form. POST: the whole file is checked first; any bad line and nothing is
        written, every problem shown with its line number."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Import suppressions from a CSV file",
            "opts": self.model._meta,
        }
        form = SuppressionCsvImportForm()
        if request.method == "POST":
            form = SuppressionCsvImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                check = suppressions_csv_check(upload.read())
                if not check.problems:
                    added = suppressions_csv_import(
                        check=check, actor=request.user, filename=upload.name
                    )
                    listed = len(check.entries)
                    self.message_user(
                        request,
                        f"Imported {listed} suppression(s) from {upload.name}: {added} new, "
                        f"{listed - added} already listed.",
                        messages.SUCCESS,
                    )
                    changelist = reverse("admin:returns_mail_suppression_changelist")
                    return HttpResponseRedirect(changelist)
                context.update(problems=check.problems, errors=check.errors)
        context["form"] = form
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/returns_mail/suppression/import_csv.html", context, status=status
        )
