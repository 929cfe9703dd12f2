"""Production carries only what production runs: the ESP sandbox's packages (the `sandbox` extra)
and the development tools stay out of requirements-prod.lock, and nothing production imports
pulls them in. The lock files agree on every package they share."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from providers.sandbox import server
from tests.config.test_settings import PRODUCTION

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Import names of the sandbox-only distributions (aiosmtpd; handlebars and js2py-wheel's js2py
# and pyjsparser under it) and of the browser driver the tests use.
SANDBOX_ONLY = ("aiosmtpd", "handlebars", "js2py", "pyjsparser", "playwright")
# The demo and the sandbox: started by `manage.py demo`, `manage.py esp_sandbox` and the tests.
SANDBOX_LAYER = (
    "providers.sandbox",
    "providers.demo",
    "analytics.demo",
    "providers.management.commands.esp_sandbox",
    "returns_mail.management.commands.demo",
)

# Runs in a fresh interpreter with production settings: records every import attempt of a
# sandbox-only package (a guarded `try: import` included) while Django starts, `check --deploy`
# runs, the WSGI/ASGI applications load, every URL pattern's view and every module of the apps
# (admin, tasks, services, migrations, management commands) is imported.
PROBE = """
import importlib, json, pkgutil, sys

WATCHED, LAYER = set(sys.argv[1].split(",")), tuple(sys.argv[2].split(","))
attempts = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in WATCHED:
            attempts.append(name)
        return None

sys.meta_path.insert(0, Watch())

import django
django.setup()
from django.core.management import call_command
call_command("check", deploy=True, fail_level="ERROR")
import config.wsgi, config.asgi, config.gunicorn
from django.urls import get_resolver
get_resolver().url_patterns  # imports every URLconf and view module
imported = []
for package in ("config", "returns_mail", "providers", "templates_lib", "analytics"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if not info.name.startswith(LAYER):
            importlib.import_module(info.name)
            imported.append(info.name)
production = {"attempts": list(attempts), "imported": imported}

importlib.import_module("providers.sandbox.smtp")  # the sandbox does use them: the watch works
print(json.dumps({**production, "sandbox_attempts": attempts[len(production["attempts"]):]}))
"""


def test_production_import_paths_never_import_the_sandbox_packages(child_env):
    env = child_env(**PRODUCTION, DJANGO_SETTINGS_MODULE="config.settings")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(SANDBOX_ONLY), ",".join(SANDBOX_LAYER)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])

    assert found["attempts"] == []
    # What production runs was among what the probe imported.
    for module in (
        "config.urls",
        "returns_mail.tasks",
        "returns_mail.admin",
        "providers.admin",
        "templates_lib.validation",
        "analytics.views",
        "returns_mail.migrations.0001_roles",
    ):
        assert module in found["imported"]
    assert "aiosmtpd" in found["sandbox_attempts"]


def test_the_sandbox_refuses_to_start_without_its_packages(monkeypatch):
    real_find_spec = server.importlib.util.find_spec
    monkeypatch.setattr(
        server.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "handlebars" else real_find_spec(name, *a),
    )

    with pytest.raises(RuntimeError, match=r"needs handlebars \(the `sandbox` extra\)"):
        server.EspSandbox().start()


# --- The lock files ---------------------------------------------------------------------------


def pins(lock: str) -> dict[str, tuple[str, frozenset[str]]]:
    """{name: (version, hashes)} of a pip-compile lock file."""
    found: dict[str, tuple[str, set[str]]] = {}
    name = None
    for line in (PROJECT_DIR / lock).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            name = match[1].lower()
            found[name] = (match[2], set())
        elif (digest := re.search(r"--hash=(sha256:[0-9a-f]{64})", line)) and name:
            found[name][1].add(digest[1])
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{lock}: an unpinned line: {line!r}")
    return {key: (version, frozenset(hashes)) for key, (version, hashes) in found.items()}


def requirement_names(requirements: list[str]) -> set[str]:
    """Normalised distribution names (PEP 503), as pip-compile writes them."""
    names = (re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements)
    return {re.sub(r"[-_.]+", "-", name).lower() for name in names}


PROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]


def test_the_production_lock_holds_the_dependencies_and_nothing_of_sandbox_or_dev():
    prod = pins("requirements-prod.lock")
    extras = PROJECT["optional-dependencies"]

    assert requirement_names(PROJECT["dependencies"]) <= set(prod)
    assert requirement_names(extras["sandbox"]) == {"aiosmtpd", "handlebars"}
    assert not requirement_names(extras["sandbox"]) & set(prod)
    # requests is also what the SendGrid and Mailchimp clients send with.
    assert not (requirement_names(extras["dev"]) - {"requests"}) & set(prod)
    # What only those pull in: handlebars.js's JavaScript interpreter, pytest's own packages.
    assert not {"js2py-wheel", "pyjsparser-wheel", "atpublic", "pluggy", "greenlet"} & set(prod)
    assert all(hashes for _, hashes in prod.values())


def test_both_locks_pin_the_same_release_of_every_package_they_share():
    prod, dev = pins("requirements-prod.lock"), pins("requirements.lock")

    assert set(prod) <= set(dev)
    assert {name: prod[name] for name in prod} == {name: dev[name] for name in prod}
    # The development lock carries the sandbox and the tools.
    extras = PROJECT["optional-dependencies"]
    assert requirement_names(extras["sandbox"] + extras["dev"]) <= set(dev)
    assert "selenium" not in dev
