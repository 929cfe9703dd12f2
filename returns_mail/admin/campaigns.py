"""Campaigns in the admin: set up as a draft, then Start / Send test / Pause / Resume / Cancel
buttons on the change page (each one service call), progress that updates itself while the
campaign runs (a JSON view polled by a small script), results once webhooks arrive, and the
chunks and recipients read-only. Held chunks are released by an admin action."""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from config.admin_base import ReadOnlyInline
from providers.clients import Capability, Reporting, account_can, account_reporting
from returns_mail.admin.segments import EXCLUSION_LABELS
from returns_mail.models import Campaign, CampaignChunk, CampaignRecipient, CampaignStatus
from returns_mail.selectors.campaigns import campaign_progress, campaign_results
from returns_mail.services.campaigns import (
    CampaignError,
    campaign_cancel,
    campaign_pause,
    campaign_problems,
    campaign_resume,
    campaign_send_test,
    campaign_start,
    chunk_release,
)

SETUP_FIELDS = (
    "name",
    "segment",
    "template",
    "account",
    "send_at",
    "unsubscribe_group_id",
    "test_recipients",
)
# Button name on the change page -> (service, what the admin is told).
COMMANDS = {
    "_campaign_start": (campaign_start, "Campaign started."),
    "_campaign_pause": (
        campaign_pause,
        "Campaign paused: chunks already with the provider finish.",
    ),
    "_campaign_resume": (campaign_resume, "Campaign resumed."),
    "_campaign_cancel": (campaign_cancel, "Campaign cancelled: nothing more goes out."),
}


class ChunkInline(ReadOnlyInline):
    model = CampaignChunk
    fields = ("number", "locale", "size", "status", "attempts", "sent_count", "failed_count")
    readonly_fields = fields
    verbose_name_plural = "chunks (one provider request each)"
    show_change_link = True


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    change_form_template = "admin/returns_mail/campaign/change_form.html"
    list_display = ("name", "status", "account", "segment", "progress_short", "started_at")
    list_filter = ("status", "account")
    list_select_related = ("account", "segment")
    search_fields = ("name",)
    autocomplete_fields = ()
    inlines = (ChunkInline,)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": SETUP_FIELDS})]
        if obj is not None and obj.pk:
            fieldsets += [
                ("Progress", {"fields": ("status", "progress", "error", "readiness")}),
                ("Results (from the provider's webhooks)", {"fields": ("results",)}),
                (
                    "Record",
                    {
                        "fields": (
                            "template_version",
                            "started_at",
                            "finished_at",
                            "remote_segment_id",
                            "remote_campaign_id",
                        )
                    },
                ),
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        record = (
            "status",
            "progress",
            "results",
            "error",
            "readiness",
            "template_version",
            "started_at",
            "finished_at",
            "remote_segment_id",
            "remote_campaign_id",
        )
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return SETUP_FIELDS + record  # a started campaign is a record, not a draft
        return record

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    # --- read-only displays -----------------------------------------------------------------
    @admin.display(description="progress")
    def progress_short(self, campaign) -> str:
        if campaign.status == CampaignStatus.DRAFT:
            return "—"
        progress = campaign_progress(campaign)
        return f"{progress.sent} / {progress.total} sent ({progress.percent} %)"

    @admin.display(description="progress")
    def progress(self, campaign) -> str:
        p = campaign_progress(campaign)
        excluded = format_html_join(
            ", ",
            "{}: {}",
            ((EXCLUSION_LABELS.get(k, k), n) for k, n in (campaign.excluded or {}).items() if n),
        )
        return format_html(
            '<div class="campaign-progress" data-url="{}" data-status="{}">'
            '<progress max="100" value="{}"></progress> <strong data-field="percent">{}</strong> %'
            '<br>total <strong data-field="total">{}</strong>, sent <strong data-field="sent">'
            '{}</strong>, failed <strong data-field="failed">{}</strong>, pending <strong '
            'data-field="pending">{}</strong>, cancelled <strong data-field="cancelled">{}'
            '</strong>, excluded <strong data-field="excluded">{}</strong> ({}), rate <strong '
            'data-field="rate">{}</strong> per second, held chunks <strong data-field="held">{}'
            "</strong></div>",
            reverse("admin:returns_mail_campaign_progress", args=[campaign.pk]),
            campaign.status,  # the script polls only while this is a running status
            p.percent,
            p.percent,
            p.total,
            p.sent,
            p.failed,
            p.pending,
            p.cancelled,
            p.excluded,
            excluded or "none",
            p.rate_per_second,
            p.held_chunks,
        )

    @admin.display(description="results")
    def results(self, campaign) -> str:
        r = campaign_results(campaign)
        reported_elsewhere = account_reporting(campaign.account) == Reporting.NOTHING
        if reported_elsewhere and campaign.report_collected_at is None:  # report not pulled yet
            return format_html(
                "sent {}: delivery, opens and clicks not reported ({} reports them in its own "
                "campaign reports); {} unsubscribed, {} bounced (from its audience webhooks)",
                r.sent,
                campaign.account.get_kind_display(),
                r.unsubscribed,
                r.bounced,
            )
        rows = [
            ("delivered", r.delivered),
            ("opened", r.opened),
            ("clicked", r.clicked),
            ("bounced", r.bounced),
            ("unsubscribed", r.unsubscribed),
        ]
        return format_html(
            "sent {}: {}",
            r.sent,
            format_html_join(", ", "{} {} ({} %)", ((k, n, r.rate(n)) for k, n in rows)),
        )

    @admin.display(description="ready to start?")
    def readiness(self, campaign) -> str:
        if campaign.status != CampaignStatus.DRAFT:
            return "—"
        problems = campaign_problems(campaign)
        if not problems:
            return "Yes."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in problems))
        )

    # --- buttons and the progress feed --------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:campaign_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="returns_mail_campaign_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not self.has_view_permission(request, campaign):
            return JsonResponse({"error": "forbidden"}, status=403)
        p = campaign_progress(campaign)
        return JsonResponse(
            {
                "status": campaign.status,
                "percent": p.percent,
                "total": p.total,
                "sent": p.sent,
                "failed": p.failed,
                "pending": p.pending,
                "cancelled": p.cancelled,
                "excluded": p.excluded,
                "rate": p.rate_per_second,
                "held": p.held_chunks,
            }
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        can_test = campaign is not None and account_can(campaign.account, Capability.SEND_BATCH)
        extra_context = {**(extra_context or {}), "can_send_test": can_test}
        return super().change_view(request, object_id, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A started campaign has nothing to edit: its buttons act without a form to validate.
        # (A draft's buttons go through response_change: the edits are saved first.)
        if request.method == "POST" and object_id:
            campaign = self.get_object(request, object_id)
            if campaign is not None and campaign.status != CampaignStatus.DRAFT:
                response = self._button(request, campaign)
                if response is not None:
                    return response
        return super().changeform_view(request, object_id, form_url, extra_context)

    def response_change(self, request, obj):
        return self._button(request, obj) or super().response_change(request, obj)

    def _button(self, request, obj):
        """Run the command of the button pressed, if one was; else None."""
        for name, (service, done) in COMMANDS.items():
            if name in request.POST:
                call = partial(service, campaign_id=obj.pk, actor=request.user)
                return self._command(request, obj, call, done)
        if "_campaign_test" in request.POST:
            return self._command(
                request,
                obj,
                partial(campaign_send_test, campaign_id=obj.pk),
                "Test sent to the test recipients.",
            )
        return None

    def _command(self, request, campaign, call, done: str):
        if not self.has_change_permission(request, campaign):
            self.message_user(request, "You may not change campaigns.", messages.ERROR)
        else:
            try:
                call()
            except CampaignError as exc:
                self.message_user(request, f"Not done: {exc}", messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
        url = reverse("admin:returns_mail_campaign_change", args=[campaign.pk])
        return HttpResponseRedirect(url)


@admin.register(CampaignChunk)
class CampaignChunkAdmin(admin.ModelAdmin):
    list_display = (
        "campaign",
        "number",
        "status",
        "size",
        "sent_count",
        "failed_count",
        "attempts",
    )
    list_filter = ("status",)
    list_select_related = ("campaign",)
    actions = ("resend_unconfirmed", "mark_sent")
    readonly_fields = [f.name for f in CampaignChunk._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request) if obj is None else False

    @admin.action(
        description="Held chunks: resend the unconfirmed recipients (some may get it twice)",
        permissions=["change"],
    )
    def resend_unconfirmed(self, request, queryset):
        self._release(request, queryset, resend=True)

    @admin.action(
        description="Held chunks: record the unconfirmed recipients as sent (some may get nothing)",
        permissions=["change"],
    )
    def mark_sent(self, request, queryset):
        self._release(request, queryset, resend=False)

    def _release(self, request, queryset, *, resend: bool):
        done, refused = 0, []
        for chunk_id in queryset.values_list("pk", flat=True):
            try:
                chunk_release(chunk_id=chunk_id, resend=resend, actor=request.user)
                done += 1
            except CampaignError as exc:
                refused.append(f"{chunk_id} ({exc})")
        if done:
            self.message_user(request, f"Released {done} chunk(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not released: {'; '.join(refused)}.", messages.WARNING)


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ("email", "campaign", "status", "chunk_number", "sent_at", "opened_at")
    list_filter = ("status", "campaign")
    list_select_related = ("campaign",)
    search_fields = ("=email", "=correlation_id")
    search_help_text = "Email or correlation id (exact)."
    show_full_result_count = False  # a campaign can have 100,000 rows: no second COUNT(*)
    readonly_fields = [f.name for f in CampaignRecipient._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
