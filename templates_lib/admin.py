"""Admin of the template library. Declarative; custom views call services and are POST-only
for anything that changes state. Template HTML is only ever shown inside a sandboxed iframe."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from config.admin_base import ReadOnlyInline
from providers.exceptions import ProviderError
from templates_lib.forms import (
    LayoutForm,
    PreviewForm,
    SendTestForm,
    TemplateForm,
    TranslationForm,
    TranslationFormSet,
)
from templates_lib.models import (
    Layout,
    SyncStatus,
    Template,
    TemplatePublication,
    TemplateSync,
    TemplateTranslation,
    TemplateVersion,
)
from templates_lib.rendering import render_version
from templates_lib.services.sync import template_sync_check
from templates_lib.services.templates import (
    NothingToPublish,
    TemplateInvalid,
    layout_changed,
    syncs_schedule,
    template_publish,
    template_publish_newest,
    template_send_test,
    template_version_create,
)


class TranslationInline(admin.StackedInline):
    model = TemplateTranslation
    form = TranslationForm
    formset = TranslationFormSet
    extra = 0


class VersionInline(ReadOnlyInline):
    model = TemplateVersion
    fields = ("number", "locales_list", "created_by", "created_at", "state", "preview_link")
    ordering = ("-number",)
    verbose_name_plural = "versions (immutable; publish one to make it active)"

    def get_fields(self, request, obj=None):
        # The Publish buttons only for those who may publish (the view checks again).
        model_admin = self.admin_site.get_model_admin(self.parent_model)
        if obj is not None and model_admin.has_change_permission(request, obj):
            return (*self.fields, "publish_button")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="locales")
    def locales_list(self, version):
        return ", ".join(version.locales) if version.pk else ""

    @admin.display(description="state")
    def state(self, version):
        if not version.pk:
            return ""
        return "active" if version.template.active_version_id == version.pk else ""

    @admin.display(description="")
    def preview_link(self, version):
        if not version.pk:
            return ""
        preview = reverse("admin:templates_lib_template_preview", args=[version.template_id])
        return format_html(
            '<a href="{}?{}">Preview</a>', preview, urlencode({"version": version.number})
        )

    @admin.display(description="")
    def publish_button(self, version):
        if not version.pk or version.template.active_version_id == version.pk:
            return ""
        # A form cannot hold another: the button posts the change form (its CSRF token
        # included) to the publish view, which reads only `version`.
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" '
            'formnovalidate name="version" value="{}" title="Make version {} the active one '
            '(edits not saved on this page are left out)">Publish</button>',
            reverse("admin:templates_lib_template_publish", args=[version.template_id]),
            version.number,
            version.number,
        )


class SyncInline(ReadOnlyInline):
    model = TemplateSync
    fields = (
        "account",
        "locale",
        "version",
        "status",
        "remote_id",
        "pushed_at",
        "checked_at",
        "error",
    )
    readonly_fields = fields
    verbose_name_plural = "copies at provider accounts"


class PublicationInline(ReadOnlyInline):
    model = TemplatePublication
    fields = ("version", "published_by", "published_at")
    readonly_fields = fields
    verbose_name_plural = "publication history"


@admin.register(Layout)
class LayoutAdmin(admin.ModelAdmin):
    form = LayoutForm
    list_display = ("name", "brand_name", "updated_at")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            count = layout_changed(layout=obj)
            if count:
                self.message_user(request, f"Pushing {count} template(s) using this layout again.")


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    change_form_template = "admin/templates_lib/template/change_form.html"
    list_display = ("name", "slug", "purpose", "active", "sync_summary")
    list_filter = ("purpose", "layout")
    search_fields = ("name", "slug", "subject")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (TranslationInline, VersionInline, PublicationInline, SyncInline)
    actions = ("check_sync", "push_again")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("active_version")

    @admin.display(description="active version")
    def active(self, template):
        return f"v{template.active_version.number}" if template.active_version else "—"

    @admin.display(description="provider copies")
    def sync_summary(self, template):
        statuses = [sync.status for sync in template.syncs.all()]
        if not statuses:
            return "—"
        current = statuses.count(SyncStatus.CURRENT)
        return f"{current}/{len(statuses)} current"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        template = form.instance
        version = template_version_create(template=template, actor=request.user)
        if "_saveandpublish" in request.POST:
            self._publish_newest(request, template, saved=version)
        elif version is not None:
            self.message_user(
                request, f"Saved as version {version.number}; it is not active until published."
            )

    def _publish_newest(self, request, template, *, saved) -> None:
        """ "Save and publish": the version this save made, else the newest one, or why not."""
        try:
            version, _ = template_publish_newest(template=template, actor=request.user)
        except NothingToPublish as exc:
            self.message_user(request, f"Nothing published: {exc}.", messages.WARNING)
            return
        except TemplateInvalid as exc:
            self.message_user(request, f"Not published: {exc}", messages.ERROR)
            return
        if saved is not None and saved.pk == version.pk:
            self.message_user(request, f"Saved and published version {version.number}.")
        else:
            self.message_user(
                request,
                f"Published version {version.number} (nothing had changed since it was saved).",
            )

    # --- actions ----------------------------------------------------------------------------
    @admin.action(description="Check sync with providers", permissions=["change"])
    def check_sync(self, request, queryset):
        for template in queryset:
            syncs = [template_sync_check(sync_id=s.pk) for s in template.syncs.all()]
            drifted = [s for s in syncs if s.status == SyncStatus.DRIFTED]
            level = messages.WARNING if drifted else messages.SUCCESS
            summary = "; ".join(f"{s.account.name} ({s.locale}): {s.error}" for s in drifted)
            self.message_user(
                request,
                f"{template.name}: {len(syncs) - len(drifted)}/{len(syncs)} current"
                + (f"; drift — {summary}" if drifted else ""),
                level,
            )

    @admin.action(description="Push the active version again", permissions=["change"])
    def push_again(self, request, queryset):
        for template in queryset.exclude(active_version=None):
            syncs = syncs_schedule(template=template, version=template.active_version)
            self.message_user(request, f"{template.name}: pushing to {len(syncs)} copies.")

    # --- custom views -----------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="templates_lib_template_preview",
            ),
            path(
                "<int:object_id>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="templates_lib_template_publish",
            ),
            *super().get_urls(),
        ]

    def _template(self, request, object_id, *, change: bool) -> Template:
        template = get_object_or_404(Template, pk=object_id)
        allowed = (
            self.has_change_permission(request, template)
            if change
            else self.has_view_or_change_permission(request, template)
        )
        if not allowed:
            raise PermissionDenied
        return template

    def publish_view(self, request, object_id):
        return require_POST(self._publish)(request, object_id)

    def _publish(self, request, object_id):
        template = self._template(request, object_id, change=True)
        change_url = reverse("admin:templates_lib_template_change", args=[template.pk])
        number = request.POST.get("version", "")
        version = template.versions.filter(number=number).first() if number.isdigit() else None
        if version is None:
            self.message_user(
                request, f"Not published: there is no version {number!r}.", messages.ERROR
            )
        elif version.pk == template.active_version_id:
            self.message_user(request, f"Version {version.number} is already the active one.")
        else:
            try:
                syncs = template_publish(version=version, actor=request.user)
            except TemplateInvalid as exc:
                self.message_user(request, f"Not published: {exc}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            self.message_user(
                request,
                f"Published version {version.number}; pushing it to {len(syncs)} provider copies.",
            )
        return HttpResponseRedirect(change_url)

    def preview_view(self, request, object_id):
        template = self._template(request, object_id, change=False)
        if not template.versions.exists():
            self.message_user(request, "Save the template first.", messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:templates_lib_template_change", args=[template.pk])
            )
        data = request.POST if request.method == "POST" else request.GET
        preview_form = PreviewForm.with_defaults(data, template=template)
        if not preview_form.is_valid():  # say what was wrong; show the defaults in its place
            for error in (e for errors in preview_form.errors.values() for e in errors):
                self.message_user(request, error, messages.ERROR)
            valid = {k: v for k, v in data.items() if k not in preview_form.errors}
            preview_form = PreviewForm.with_defaults(valid, template=template)
            preview_form.is_valid()
        choice = preview_form.cleaned_data
        version = template.versions.get(number=choice["version"])
        send_form = SendTestForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if not self.has_change_permission(request, template):
                raise PermissionDenied
            if send_form.is_valid():
                self._send_test(request, version, choice, send_form.cleaned_data)
                # Back to the same preview with a GET: reloading the page sends nothing again.
                return HttpResponseRedirect(f"{request.path}?{preview_form.query()}")
        event_type, variables = preview_form.context()
        rendered = render_version(version, variables, choice["locale"])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {template.name}",
            "opts": self.model._meta,
            "original": template,
            "version": version,
            "preview_form": preview_form,
            "send_form": send_form,
            "rendered": rendered,
            "stored_event": choice.get("stored_event"),
            "rendered_event_type": event_type,
        }
        return TemplateResponse(request, "admin/templates_lib/template/preview.html", context)

    def _send_test(self, request, version, choice, data):
        try:
            result = template_send_test(
                version=version,
                account=data["account"],
                to=data["to"],
                event_type=choice["event_type"],
                locale=choice["locale"],
            )
        except ProviderError as exc:
            self.message_user(request, f"Test email not sent: {exc}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Test email to {data['to']} accepted by {data['account'].name}; provider message id "
            f"{result.provider_message_id or '—'}.",
        )
