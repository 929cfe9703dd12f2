"""Reading failures of the requests-based SDKs (Mailchimp Marketing and Transactional)."""

from __future__ import annotations

import requests
from urllib3.exceptions import ProtocolError


def describe_transport_failure(exc: BaseException) -> tuple[str, bool]:
    """What a `requests` failure means: (description, ambiguous).

    Ambiguous when the request went out and no answer came back (read timeout, connection
    dropped mid-request): the provider may have acted on it."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"connect timeout: {exc}", False
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer before the timeout (the request may have been processed): {exc}", True
    if isinstance(exc, requests.ConnectionError):
        aborted = bool(exc.args) and isinstance(exc.args[0], ProtocolError)
        if aborted:
            return f"connection dropped before the answer (may have been processed): {exc}", True
        return f"cannot connect: {exc}", False
    return f"{type(exc).__name__}: {exc}", False
