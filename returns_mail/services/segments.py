"""Writes of segments: every save is validated (a bad condition changes nothing)."""

from __future__ import annotations

from returns_mail.models import Segment
from returns_mail.models.rules import MatchMode


def segment_save(*, segment: Segment) -> Segment:
    """Validate (conditions included, each error naming its condition) and save.
    Raises django.core.exceptions.ValidationError and writes nothing when invalid."""
    segment.full_clean()
    segment.save()
    return segment


def segment_create(
    *,
    name: str,
    conditions: list[dict],
    match: str = MatchMode.ALL,
    description: str = "",
) -> Segment:
    return segment_save(
        segment=Segment(name=name, description=description, match=match, conditions=conditions)
    )
