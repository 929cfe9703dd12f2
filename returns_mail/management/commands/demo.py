"""`manage.py demo`: the whole product on one machine, on its embedded defaults."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import module_has_submodule

from returns_mail.supervisor import run_together

MANAGE_PY = str(Path(settings.BASE_DIR) / "manage.py")


def app_demo_modules():
    """Each app's optional `demo` module, in INSTALLED_APPS (dependency) order."""
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "demo"):
            yield import_module(f"{app_config.name}.demo")


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo data (idempotent), then run the web server, the django-q2 worker "
        "and every app's demo services together until Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--setup-only", action="store_true", help="migrate and seed, start nothing"
        )

    def handle(self, *args, host, port, setup_only, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs in development only: set DEBUG=true.")
        # Seeds that build URLs to this demo (the sandbox's webhook targets) read settings.PORT.
        settings.PORT = port
        if not settings.PUBLIC_BASE_URL:
            # The links in the demo's emails (unsubscribe, preferences) lead to this demo; the
            # web and worker processes inherit it. 127.0.0.1, as the sandbox's webhook targets.
            os.environ["PUBLIC_BASE_URL"] = settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{port}"
        call_command("migrate", interactive=False, verbosity=0)
        modules = list(app_demo_modules())
        for module in modules:
            if hasattr(module, "seed"):
                module.seed(out=self.stdout)
        if setup_only:
            return
        # Settings an app's demo services need the other processes to have (the DNS server the
        # sender-authentication checks ask): inherited by every process started below.
        for module in modules:
            os.environ.update(getattr(module, "environment", dict)())
        # The apps' services (the ESP sandbox) first: the worker sends through them at once.
        commands = []
        for module in modules:
            commands += getattr(module, "processes", lambda: [])()
        commands += [
            ("web", [sys.executable, MANAGE_PY, "runserver", f"{host}:{port}", "--noreload"]),
            ("worker", [sys.executable, MANAGE_PY, "qcluster"]),
        ]
        self.stdout.write(f"Returns Mail: http://{host}:{port}/admin/  (Ctrl-C stops everything)")
        code = run_together(commands, out=self.stdout)
        if code:
            raise CommandError(f"a demo process failed (exit code {code})", returncode=code)
