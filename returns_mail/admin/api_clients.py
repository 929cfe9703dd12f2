"""API clients of the REST API. The token is shown once, on the page that answers the
creation (or rotation) POST, and never again: only its digest and first characters are kept."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from returns_mail.forms.api_clients import ApiClientForm
from returns_mail.models import ApiClient
from returns_mail.services.api_clients import api_client_create, api_client_rotate


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    change_form_template = "admin/returns_mail/apiclient/change_form.html"
    list_display = (
        "name",
        "token_hint",
        "scope_list",
        "rate_limit_per_minute",
        "is_active",
        "created_at",
        "token_rotated_at",
        "last_used_at",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "token_prefix")
    readonly_fields = ("token_hint", "created_at", "token_rotated_at", "last_used_at")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # a new client is active; its token is made by the service
            return ((None, {"fields": ("name", "scopes", "rate_limit_per_minute")}),)
        return (
            (None, {"fields": ("name", "scopes", "rate_limit_per_minute", "is_active")}),
            ("Token", {"fields": ("token_hint", "created_at", "token_rotated_at", "last_used_at")}),
        )

    @admin.display(description="token")
    def token_hint(self, client) -> str:
        return f"{client.token_prefix}…" if client.token_prefix else "—"

    @admin.display(description="scopes")
    def scope_list(self, client) -> str:
        return ", ".join(client.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created, token = api_client_create(
            name=obj.name, scopes=obj.scopes, rate_limit_per_minute=obj.rate_limit_per_minute
        )
        obj.pk, obj.token_digest, obj.token_prefix, obj.created_at = (
            created.pk,
            created.token_digest,
            created.token_prefix,
            created.created_at,
        )
        obj._state.adding = False
        obj._new_token = token  # in memory only, for the page answering this request

    def response_add(self, request, obj, post_url_continue=None):
        token = getattr(obj, "_new_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return self._token_page(request, obj, token, created=True)

    # --- rotation ---------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:object_id>/rotate-token/",
                self.admin_site.admin_view(self.rotate_view),
                name="returns_mail_apiclient_rotate",
            ),
            *super().get_urls(),
        ]

    def rotate_view(self, request, object_id):
        """GET asks for confirmation; POST rotates and shows the new token once."""
        client = get_object_or_404(ApiClient, pk=object_id)
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        if request.method == "POST":
            token = api_client_rotate(client=client, actor=request.user)
            return self._token_page(request, client, token, created=False)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the token of {client.name}?",
            "opts": self.model._meta,
            "original": client,
        }
        return TemplateResponse(request, "admin/returns_mail/apiclient/rotate.html", context)

    def _token_page(self, request, client, token: str, *, created: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'New API client' if created else 'New token for'} {client.name}",
            "opts": self.model._meta,
            "original": client,
            "token": token,
            "created": created,
        }
        response = TemplateResponse(request, "admin/returns_mail/apiclient/token.html", context)
        response["Cache-Control"] = "no-store"
        return response
