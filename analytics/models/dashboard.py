from django.db import models


class Dashboard(models.Model):
    """No table: carries the permission that opens the analytics pages (the Managers role)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboards", "Can view the analytics dashboards")]

    def __str__(self) -> str:
        return "analytics dashboards"
