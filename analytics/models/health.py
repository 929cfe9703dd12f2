"""Integration uptime: a credential check per account every minute, and the intake API's
readiness every minute (probed over HTTP from outside, by the worker, or checked in-process);
uptime is the share of expected minutes with a successful check (analytics/selectors/uptime)."""

from __future__ import annotations

from django.db import models


class HealthComponent(models.TextChoices):
    PROVIDER = "provider", "Provider account"
    INTAKE = "intake", "Intake API"


class CheckSource(models.TextChoices):
    WORKER = "worker", "Worker (in-process or credential check)"
    WORKER_HTTP = "worker_http", "Worker, over HTTP"
    PROBE = "probe", "External probe (manage.py probe)"


class HealthCheck(models.Model):
    component = models.CharField(max_length=8, choices=HealthComponent.choices)
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    latency_ms = models.FloatField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    source = models.CharField(
        max_length=16, choices=CheckSource.choices, default=CheckSource.WORKER
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(fields=["account", "checked_at"]),
            models.Index(fields=["component", "checked_at"]),
        ]

    def __str__(self) -> str:
        subject = self.account or self.get_component_display()
        return f"{subject} {'ok' if self.ok else 'failed'} at {self.checked_at:%H:%M:%S}"
