"""Segments, built without code: conditions as rows, and on the change page the audience as
it is now (members, eligible for promotional mail, excluded by reason) with a sample of
members, both read through the selectors of returns_mail.segments."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from returns_mail.admin.base import pretty_json
from returns_mail.forms.segments import SegmentForm
from returns_mail.models import Segment
from returns_mail.segment_rules import segment_conditions_errors
from returns_mail.selectors.segments import segment_audience, segment_members
from returns_mail.services.segments import segment_save

SAMPLE_SIZE = 20
EXCLUSION_LABELS = {
    "hard_bounce": "hard bounce",
    "complaint": "spam complaint",
    "unsubscribe": "unsubscribed",
    "manual": "suppressed by hand",
    "no_consent": "no marketing consent",
}


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/returns_mail/segment/change_form.html"
    list_display = ("name", "match", "condition_count", "updated_at")
    list_filter = ("match",)
    search_fields = ("name", "description")
    readonly_fields = ("audience", "sample", "stored_conditions")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ("name", "description", "match")})]
        if obj is not None and obj.pk:
            fieldsets += [
                ("Audience now (saved conditions)", {"fields": ("audience", "sample")}),
                ("Stored conditions", {"fields": ("stored_conditions",)}),
            ]
        return fieldsets

    def save_model(self, request, obj, form, change):
        segment_save(segment=obj)

    @admin.display(description="conditions")
    def condition_count(self, segment) -> int:
        return len(segment.conditions)

    @admin.display(description="count")
    def audience(self, segment) -> str:
        if segment_conditions_errors(segment.conditions):
            return "The stored conditions are not valid: correct them to see the count."
        found = segment_audience(segment)
        reasons = format_html_join(
            "",
            "<li>{}: {}</li>",
            ((EXCLUSION_LABELS[key], n) for key, n in found.excluded.items()),
        )
        return format_html(
            '<div class="segment-audience"><strong>{}</strong> members, <strong>{}</strong> '
            "eligible for promotional mail, <strong>{}</strong> excluded "
            "(each counted once, first reason first):<ul>{}</ul></div>",
            found.members,
            found.eligible,
            found.excluded_total,
            reasons,
        )

    @admin.display(description=f"sample (first {SAMPLE_SIZE} members)")
    def sample(self, segment) -> str:
        if segment_conditions_errors(segment.conditions):
            return "-"
        members = segment_members(segment).order_by("email")[:SAMPLE_SIZE]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    c.email,
                    c.locale,
                    ", ".join(str(t) for t in c.tags) if isinstance(c.tags, list) else "",
                    c.returns_count,
                    "yes" if c.marketing_consent else "no",
                )
                for c in members
            ),
        )
        if not rows:
            return "No customer matches."
        return format_html(
            '<table class="segment-sample"><thead><tr><th>email</th><th>locale</th>'
            "<th>tags</th><th>returns</th><th>consent</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="as JSON")
    def stored_conditions(self, segment) -> str:
        return pretty_json(segment.conditions)
