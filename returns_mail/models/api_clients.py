from __future__ import annotations

import hashlib

from django.core.validators import MinValueValidator
from django.db import models

SCOPES = ("events:write", "messages:read")


def token_digest(token: str) -> str:
    """Tokens are stored as SHA-256 digests: high-entropy random secrets need no slow hash,
    and a digest lets authentication look a token up by index."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiClient(models.Model):
    """A system allowed to call the REST API (the returns system)."""

    name = models.CharField(max_length=100, unique=True)
    scopes = models.JSONField(default=list, help_text=f"Any of: {', '.join(SCOPES)}")
    rate_limit_per_minute = models.PositiveIntegerField(
        default=6000, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField("active", default=True)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    token_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    # DRF checks `request.user.is_authenticated` in IsAuthenticated.
    is_authenticated = True
