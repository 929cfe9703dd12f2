"""Login lockout (django-axes) for every login form: the admin's and the dashboards'.

Both pages log in through Django's AuthenticationForm, which calls
``authenticate(request=..., username=..., password=...)``: axes sees each attempt and refuses it
while its client is locked out, even with the right password. Two limits, both counted over the
cool-off period:

- per (user name, client IP): ``AXES_FAILURE_LIMIT`` failures lock that pair (axes' own count);
- per client IP, across every user name: ``AXES_IP_FAILURE_LIMIT`` failures lock the address,
  so one client cannot try a few passwords on each of many user names.

Failures for user names that do not exist are counted the same way, so the lockout says nothing
about which accounts exist.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, first in AUTHENTICATION_BACKENDS (it never logs anyone in itself).

    An ``authenticate()`` call without a request (Django's test client ``login()``, a shell) has
    no client to count failures for: axes would raise, so such a call is left to the next
    backend instead. Every login *page* passes its request (see the tests in
    tests/config/test_security.py, which log in through both forms with real POSTs)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler (AXES_HANDLER) with the per-IP limit on top of the per-pair one.

    Axes compares one failure count with one limit wherever it decides (refusing an attempt,
    locking out on the failure that reaches the limit). So the count it is given is the pair's,
    raised to the pair's limit when the address as a whole is over its own limit."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        if ip_failures(request) >= settings.AXES_IP_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def ip_failures(request) -> int:
    """Failed logins from the request's client IP within the cool-off, for any user name."""
    attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
