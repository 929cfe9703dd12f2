"""The audit trail as the admin lists it: Django's own LogEntry table (see config/audit.py)."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry


class AuditEntry(LogEntry):
    """A proxy: its own admin page and `view_auditentry` permission (IT admins get it with the
    rest of returns_mail; Managers do not), over the rows the admin and `audit_record` write."""

    class Meta:
        proxy = True
        verbose_name = "audit trail entry"
        verbose_name_plural = "audit trail"
        default_permissions = ("view",)
