"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

# Refuse to serve with a key that cannot decrypt the stored provider secrets.
from providers.services.secrets import secrets_guard  # noqa: E402

secrets_guard()
