"""Errors of the providers app: one family, carrying who answered what, and whether to retry.

Classification follows the status code: 400/401/403/404/413 are permanent (retrying cannot
help); 408/429/5xx, timeouts and connection failures are transient. A read timeout is also
*ambiguous*: the provider may have accepted the mail before we stopped waiting, so a caller that
retries it must accept the risk of a duplicate (or check first).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415, 422})


def is_permanent_status(status: int | None) -> bool:
    """True when an HTTP error status means "do not retry this request"."""
    if status is None:
        return False
    if status in (408, 429) or status >= 500:
        return False
    return status in PERMANENT_STATUSES or 400 <= status < 500


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, status: int | None = None, now: float | None = None
) -> float | None:
    """Delay the provider asked for: `Retry-After` (seconds or HTTP date), or on a 429 the
    `X-RateLimit-Reset` time (SendGrid sends that header on every answer, so on a 500 it is not
    a request to wait)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    value = lowered.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    reset = lowered.get("x-ratelimit-reset")
    if reset and status == 429:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


class ProviderError(Exception):
    """Root of every error raised by the providers app."""

    permanent = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        account: str = "",
        status: int | None = None,
        code: str = "",
        permanent: bool | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.account = account
        self.status = status
        self.code = code  # the provider's own error name, e.g. Mandrill's "Invalid_Key"
        if permanent is not None:
            self.permanent = permanent
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        # A batch that failed part-way: the results of the requests the provider already
        # accepted. Those recipients must not be sent again.
        self.partial_results: list = []

    @property
    def transient(self) -> bool:
        return not self.permanent

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                self.provider,
                f"account {self.account!r}" if self.account else "",
                f"HTTP {self.status}" if self.status is not None else "",
                self.code,
            )
            if part
        )
        kind = "permanent" if self.permanent else "transient"
        return f"{where}: {self.message} ({kind})" if where else f"{self.message} ({kind})"


class ProviderConfigurationError(ProviderError):
    """The account cannot be used as configured: a missing or undecryptable secret, an
    operation the provider kind does not offer. Never retried."""

    permanent = True


class ProviderRequestError(ProviderError):
    """The provider answered with an error, or could not be reached."""
