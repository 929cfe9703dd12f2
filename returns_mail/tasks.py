"""django-q2 entry points of returns_mail: each takes an id and calls one service."""

from returns_mail.services import messages, sending


def send_message(message_id: int) -> None:
    sending.message_send(message_id=message_id)


def sweep_messages() -> int:
    return messages.messages_sweep()
