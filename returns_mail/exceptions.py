"""Errors of returns_mail."""


class ReturnsMailError(Exception):
    """Root of returns_mail's errors."""


class IdempotencyConflict(ReturnsMailError):
    """The idempotency key was used before with a different request body."""

    def __init__(self, event_id: int):
        self.event_id = event_id
        super().__init__(
            f"this idempotency key was already used for another request (event {event_id})"
        )
