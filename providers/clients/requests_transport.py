"""Reading failures of the requests-based SDKs (Mailchimp Marketing and Transactional)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests
from urllib3.exceptions import ProtocolError

from providers.clients.no_redirects import RedirectRefused
from providers.exceptions import retry_after_seconds


class LastResponse:
    """The last raw response an SDK got, per thread: their errors drop the headers, and with
    them `Retry-After`. `watch(sdk.api_client)` wraps the SDK's request method once."""

    def __init__(self):
        self._local = threading.local()

    def watch(self, api_client) -> None:
        request: Callable = api_client.request

        def keep(*args, **kwargs):
            response = request(*args, **kwargs)
            self._local.response = response
            return response

        api_client.request = keep

    def forget(self) -> None:
        self._local.response = None

    def retry_after(self) -> float | None:
        response = getattr(self._local, "response", None)
        if response is None:
            return None
        return retry_after_seconds(response.headers, status=response.status_code)


@dataclass(frozen=True)
class TransportFailure:
    description: str
    ambiguous: bool = False  # the request went out: the provider may have acted on it
    permanent: bool = False  # asking again cannot help


def describe_transport_failure(exc: BaseException) -> TransportFailure:
    """What a `requests` failure means. Ambiguous when the request went out and no answer came
    back (read timeout, connection dropped mid-request); permanent for a refused redirect."""
    if isinstance(exc, RedirectRefused):
        return TransportFailure(str(exc), permanent=True)
    if isinstance(exc, requests.ConnectTimeout):
        return TransportFailure(f"connect timeout: {exc}")
    if isinstance(exc, requests.ReadTimeout):
        return TransportFailure(
            f"no answer before the timeout (the request may have been processed): {exc}",
            ambiguous=True,
        )
    if isinstance(exc, requests.ConnectionError):
        if bool(exc.args) and isinstance(exc.args[0], ProtocolError):
            return TransportFailure(
                f"connection dropped before the answer (may have been processed): {exc}",
                ambiguous=True,
            )
        return TransportFailure(f"cannot connect: {exc}")
    return TransportFailure(f"{type(exc).__name__}: {exc}")
