"""Trigger rules, edited without code, and "Test this rule": a dry run against a catalogue
sample or a stored event, through services.rules (it renders and routes; it sends nothing)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from returns_mail.admin.base import EventTypeFilter
from returns_mail.forms.rules import RouteFormSet, RuleTrialForm, TriggerRuleForm
from returns_mail.models import RuleAccount, TriggerRule
from returns_mail.services.rules import rule_try, rule_try_event
from templates_lib.catalogue import sample_context


class RouteInline(admin.TabularInline):
    model = RuleAccount
    formset = RouteFormSet
    fields = ("account", "position", "weight")
    extra = 1
    verbose_name = "provider account"
    verbose_name_plural = (
        "route: provider accounts (failover: by position, lowest first; weighted split: each "
        "recipient goes to one account by weight, the others are its fallback)"
    )


@admin.register(TriggerRule)
class TriggerRuleAdmin(admin.ModelAdmin):
    form = TriggerRuleForm
    change_form_template = "admin/returns_mail/triggerrule/change_form.html"
    list_display = (
        "name",
        "event_type",
        "template",
        "routing_summary",
        "enabled",
        "priority",
    )
    list_filter = ("enabled", EventTypeFilter, "routing", "template")
    list_select_related = ("template",)
    search_fields = ("name", "event_type", "template__name")
    inlines = (RouteInline,)
    fieldsets = (
        ("When", {"fields": ("name", "event_type", "enabled", "priority", "match")}),
        (
            "What",
            {"fields": ("template", "pinned_version", "use_provider_template")},
        ),
        ("To whom", {"fields": ("send_to_customer", "internal_recipients")}),
        ("Timing", {"fields": ("delay_minutes", "cancel_on")}),
        ("Through which provider", {"fields": ("routing",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("route__account")

    @admin.display(description="routing")
    def routing_summary(self, rule) -> str:
        accounts = [link.account.name for link in rule.route.all()]
        if not accounts:
            return f"{rule.get_routing_display()}: no account"
        return f"{rule.get_routing_display()}: {', '.join(accounts)}"

    # --- "Test this rule" -------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:object_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="returns_mail_triggerrule_test",
            ),
            *super().get_urls(),
        ]

    def test_view(self, request, object_id):
        """GET only: trying a rule changes nothing and sends nothing."""
        rule = get_object_or_404(
            TriggerRule.objects.select_related("template__active_version", "pinned_version"),
            pk=object_id,
        )
        if not self.has_view_or_change_permission(request, rule):
            raise PermissionDenied
        form = RuleTrialForm(request.GET or None, initial={"sample": rule.event_type})
        trial, source = None, ""
        if not form.is_bound:
            trial = rule_try(
                rule=rule, context=sample_context(rule.event_type), event_type=rule.event_type
            )
            source = f"the catalogue sample of {rule.event_type}"
        elif form.is_valid():
            event = form.cleaned_data.get("event")
            if event is not None:
                trial = rule_try_event(rule=rule, event=event)
                source = f"stored event {event.pk} ({event.type}, return {event.return_id})"
            else:
                sample = form.cleaned_data["sample"]
                trial = rule_try(rule=rule, context=sample_context(sample), event_type=sample)
                source = f"the catalogue sample of {sample}"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test rule: {rule.name}",
            "opts": self.model._meta,
            "original": rule,
            "form": form,
            "trial": trial,
            "source": source,
        }
        return TemplateResponse(request, "admin/returns_mail/triggerrule/test.html", context)
