"""Staff logins, as IT admins manage them: they may add users, reset passwords and put people
in the role groups, but never make anyone (themselves included) a superuser, grant single
permissions outside the roles, or touch a superuser's account — the roles are the policy."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied

User = get_user_model()
# Only a superuser may set these: anyone else who could would hold every permission.
ESCALATING_FIELDS = ("is_superuser", "user_permissions")


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return (*fields, *ESCALATING_FIELDS)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # a superuser's account (password included) is its own business
        return super().has_change_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if user is not None and user.is_superuser and not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)
