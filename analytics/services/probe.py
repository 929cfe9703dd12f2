"""HTTP probes of the intake API's public `/readyz`, recorded as intake HealthCheck rows.

Two callers: `manage.py probe`, which operators run outside the app hosts (it sees what a
client sees: DNS, TLS, load balancer, web tier), and the worker's fallback probe of
INTAKE_PROBE_URL every minute. A probe is up when the intake answered without a 5xx; a refused
connection, a timeout or a 5xx is down. The row stores the status, the latency and the kind of
failure, never the response body or the error text (hosts, addresses).

The probe writes its row straight to the database: it is a management command with the app's
settings, so no extra credential or endpoint is needed, and a probe that cannot reach the
database records nothing, which the expected-interval uptime counts as down like any other
missing minute.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from django.utils import timezone

from analytics.models import CheckSource, HealthCheck, HealthComponent

logger = logging.getLogger(__name__)

READYZ = "/readyz"


def readyz_url(base: str) -> str:
    """`base`'s /readyz: a bare origin (https://host or https://host/app) gets /readyz added.
    Raises ValueError for anything but an absolute http(s) URL."""
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {base!r}")
    path = parts.path.rstrip("/")
    if not path.endswith(READYZ):
        path += READYZ
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: int | None
    latency_ms: float
    detail: str


def probe(url: str, *, timeout: float) -> ProbeResult:
    """GET `url` once (no redirects followed: a redirect is an answer, not a 5xx)."""
    started = time.perf_counter()
    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return ProbeResult(False, None, _elapsed_ms(started), "timeout")
    except requests.ConnectionError as exc:
        return ProbeResult(False, None, _elapsed_ms(started), _failure(exc))
    except requests.RequestException as exc:
        return ProbeResult(False, None, _elapsed_ms(started), f"failed ({type(exc).__name__})")
    latency = _elapsed_ms(started)
    status = response.status_code
    return ProbeResult(status < 500, status, latency, f"HTTP {status}")


def probe_record(url: str, *, timeout: float, source: str) -> HealthCheck:
    """Probe `url` and store the result as an intake check from `source`."""
    checked_at = timezone.now()
    result = probe(url, timeout=timeout)
    if not result.ok:
        logger.warning("intake probe of %s failed: %s", url, result.detail)
    return HealthCheck.objects.create(
        component=HealthComponent.INTAKE,
        source=source,
        checked_at=checked_at,
        ok=result.ok,
        http_status=result.status,
        latency_ms=result.latency_ms,
        detail=result.detail,
    )


def worker_probe(url: str, *, timeout: float) -> HealthCheck:
    return probe_record(readyz_url(url), timeout=timeout, source=CheckSource.WORKER_HTTP)


def _failure(exc: BaseException) -> str:
    # The error text names hosts and addresses: only its kind is kept.
    if "refused" in str(exc).lower():
        return "connection refused"
    return f"connection failed ({type(exc).__name__})"


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
