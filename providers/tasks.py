"""django-q2 entry points of providers: each takes an id (or nothing) and calls one service."""

from providers.services import sender_auth


def check_sender_auth(account_id: int) -> str:
    """Check one account's sender domain (SPF, DKIM, DMARC, the provider's status)."""
    return sender_auth.sender_auth_check(account_id=account_id).state


def check_sender_auth_all() -> int:
    """Daily (schedule): queue the check of every active account."""
    return sender_auth.sender_auth_check_all()
