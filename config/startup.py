"""The checks the WSGI and ASGI entry points run before serving.

`runserver` runs Django's system checks and refuses to start on an error; gunicorn and uvicorn
only import the application. So the entry points run the system checks an app registered with
the STARTUP tag, and an error stops the process before it serves a request: a stored provider
secret the configured keys cannot decrypt (providers.E001) must not turn into ciphertext sent as
an API key. The apps register these checks; config runs them by tag and imports none of them.
`manage.py check` runs them too (with every other check).
"""

from __future__ import annotations

from django.core import checks
from django.core.management.base import SystemCheckError

STARTUP = "startup"


def run_startup_checks() -> None:
    """Raise SystemCheckError naming each error (not silenced) of the STARTUP-tagged checks."""
    errors = [
        message
        for message in checks.run_checks(tags=[STARTUP])
        if message.is_serious() and not message.is_silenced()
    ]
    if errors:
        lines = "\n".join(str(error) for error in errors)
        raise SystemCheckError(f"Refusing to start, a start-up check failed:\n{lines}")
