"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from config.startup import run_startup_checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Refuse to serve when a start-up check fails (e.g. a key that cannot decrypt the stored
# provider secrets).
run_startup_checks()
