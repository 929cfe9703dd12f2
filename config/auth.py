"""Login lockout (django-axes) for every login form: the admin's and the dashboards'.

Both pages log in through Django's AuthenticationForm, which calls
``authenticate(request=..., username=..., password=...)``: axes sees each attempt, counts the
failures per (username, client IP) and refuses the attempt while that pair is locked, even with
the right password. It counts failures for user names that do not exist the same way, so the
lockout says nothing about which accounts exist.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


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
