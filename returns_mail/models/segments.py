"""Customer segments for promotional sends, built in the admin without code."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from returns_mail.models.rules import MatchMode
from returns_mail.segment_rules import segment_conditions_errors


class Segment(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    match = models.CharField(max_length=8, choices=MatchMode.choices, default=MatchMode.ALL)
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text="Conditions on customer fields and event history (see the segment help).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = segment_conditions_errors(self.conditions)
        if errors:
            raise ValidationError(errors)
