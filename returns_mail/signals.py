"""Signals for the apps above returns_mail (analytics), which it must not import."""

from django.dispatch import Signal

# Sent inside the transaction that records a send's outcome, once per message reaching "sent"
# or "failed": sender=Message, message=<Message, refreshed>, status=<the new status>.
message_finished = Signal()
