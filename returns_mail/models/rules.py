from __future__ import annotations

from django.db import models

from returns_mail.operators import CONDITION_OPERATORS


class RoutingMode(models.TextChoices):
    SINGLE = "single", "One account"
    FAILOVER = "failover", "Failover chain (first, then the next)"
    WEIGHTED = "weighted", "Weighted split (per recipient), others as fallback"


class MatchMode(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class TriggerRule(models.Model):
    """When an event of `event_type` matches the conditions, send `template` to the recipients."""

    name = models.CharField(max_length=150, unique=True)
    event_type = models.CharField(max_length=64, db_index=True)
    enabled = models.BooleanField(default=True)
    priority = models.SmallIntegerField(default=100, help_text="Lower runs first.")
    match = models.CharField(max_length=8, choices=MatchMode.choices, default=MatchMode.ALL)
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='A list of {"field": "refund.amount", "op": "gt", "value": "100"}; '
        "operators: " + ", ".join(f"{k} ({v})" for k, v in CONDITION_OPERATORS.items()),
    )
    template = models.ForeignKey(
        "templates_lib.Template", on_delete=models.PROTECT, related_name="rules"
    )
    pinned_version = models.ForeignKey(
        "templates_lib.TemplateVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: the template's active version when the event arrives.",
    )
    send_to_customer = models.BooleanField(default=True)
    internal_recipients = models.JSONField(
        default=list, blank=True, help_text="Fixed addresses, e.g. the warehouse team."
    )
    delay_minutes = models.PositiveIntegerField(default=0)
    cancel_on = models.JSONField(
        default=list,
        blank=True,
        help_text="Event types that cancel this rule's pending messages for the same return.",
    )
    routing = models.CharField(
        max_length=10, choices=RoutingMode.choices, default=RoutingMode.FAILOVER
    )
    use_provider_template = models.BooleanField(
        default=False,
        help_text="Send with the template stored at the provider (id plus data) instead of "
        "content rendered here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class RuleAccount(models.Model):
    """An account in a rule's route: its place in the failover chain, its weight in a split."""

    rule = models.ForeignKey(TriggerRule, on_delete=models.CASCADE, related_name="route")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "account"], name="account_once_per_rule")
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.account} (#{self.position}, weight {self.weight})"
