"""Reads of returns_mail for the REST API. Every read is scoped to one API client: a client never
sees another's events, and cannot tell whether they exist."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from returns_mail.models import ApiClient, Message, ReturnEvent

_MESSAGE_RELATIONS = ("rule", "template_version__template", "account")
_MAX_ID = 2**63 - 1  # a larger number in the URL would overflow the database's integer


def _messages() -> QuerySet[Message]:
    return Message.objects.select_related(*_MESSAGE_RELATIONS)


def event_get(*, client: ApiClient, event_id: int) -> ReturnEvent | None:
    """The client's event with its messages (oldest first), or None."""
    if not 0 < event_id <= _MAX_ID:
        return None
    return (
        ReturnEvent.objects.filter(client=client, pk=event_id)
        .prefetch_related(Prefetch("messages", queryset=_messages().order_by("created_at", "id")))
        .first()
    )


def return_messages(*, client: ApiClient, return_id: str) -> list[Message] | None:
    """Every message of the client's events for the return, newest first; None when the client
    has no event for that return."""
    messages = list(
        _messages()
        .select_related("event")
        .filter(event__client=client, event__return_id=return_id)
        .order_by("-created_at", "-id")
    )
    if messages:
        return messages
    if ReturnEvent.objects.filter(client=client, return_id=return_id).exists():
        return []
    return None
