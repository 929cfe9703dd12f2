"""Shared fixtures: child processes of the project, free ports, the ESP sandbox, provider
accounts and templates."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Variables a child process must not inherit from the developer's shell or CI.
_SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
)


@pytest.fixture
def child_env(tmp_path):
    """Environment for running the project in a child process: no .env, own DATA_DIR."""

    def make(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARIABLES}
        env.update(ENV_FILE="", DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
        env.update(overrides)
        return env

    return make


@pytest.fixture
def manage(child_env):
    """Run `manage.py ARGS` in a child process and return the completed process."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
        return subprocess.run(
            [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
            cwd=PROJECT_DIR,
            env=env if env is not None else child_env(DEBUG="true"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_pair() -> int:
    """A free port whose next one is free too (the sandbox's SMTP server takes port + 1)."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports found")


@pytest.fixture(scope="session")
def _esp_sandbox_server():
    from providers.sandbox import EspSandbox

    sandbox = EspSandbox().start("127.0.0.1", 0)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def esp_sandbox(_esp_sandbox_server, settings):
    """The loopback ESP sandbox on a free port, empty at the start of every test (a request a
    slow fault kept running is finished first, so it cannot land in the next test). Its SMTP
    relay's port is allowed the way an operator allows one: through SMTP_EXTRA_PORTS."""
    settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, _esp_sandbox_server.smtp.port]
    _esp_sandbox_server.wait_idle()
    _esp_sandbox_server.reset()
    yield _esp_sandbox_server
    _esp_sandbox_server.wait_idle()
    _esp_sandbox_server.reset()


@pytest.fixture(scope="session")
def _dns_zone_server():
    from providers.sandbox.dns import DnsZoneServer

    server = DnsZoneServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def dns_zone(_dns_zone_server, settings):
    """The loopback DNS server the sender-authentication checks ask (SENDER_AUTH_NAMESERVERS),
    for every test (none asks the real DNS), empty at the start: `dns_zone.set_zone({...})`
    publishes records (see providers/sandbox/dns.py for the zone's shape). A lookup may take
    0.5 s before it counts as "could not check"."""
    settings.SENDER_AUTH_NAMESERVERS = [("127.0.0.1", _dns_zone_server.port)]
    settings.SENDER_AUTH_DNS_TIMEOUT = 0.5
    _dns_zone_server.set_zone({})
    _dns_zone_server.queries.clear()
    yield _dns_zone_server
    _dns_zone_server.set_zone({})


TEST_SMTP_PASSWORD = "SG.smtp-relay-password-0001"
SANDBOX_PREFIX = {
    "sendgrid": "sendgrid",
    "mailchimp_marketing": "mailchimp",
    "mailchimp_transactional": "mandrill",
}
TEST_KEYS = {
    "sendgrid": "SG.testkeyid.testsecret-0001",
    "mailchimp_marketing": "0123456789abcdef0123456789abcdef-us6",
    "mailchimp_transactional": "md-test-key-0001",
}


@pytest.fixture
def make_account(db, esp_sandbox):
    """Create a ProviderAccount of `kind` pointing at the sandbox (override any field)."""
    from providers.models import ProviderAccount

    def make(kind: str, **fields):
        defaults = {
            "name": f"{kind} test {ProviderAccount.objects.count() + 1}",
            "kind": kind,
            "from_email": "returns@shop.example",
            "from_name": "Shop Returns",
        }
        if kind in SANDBOX_PREFIX:
            defaults["api_base_url"] = esp_sandbox.base_url(SANDBOX_PREFIX[kind])
            defaults["api_key"] = TEST_KEYS[kind]
        if kind == "mailchimp_marketing":
            defaults["audience_id"] = "aud001"
        if kind == "smtp":
            defaults.update(
                smtp_host="127.0.0.1",
                smtp_port=esp_sandbox.smtp.port,
                smtp_security="none",
                smtp_username="apikey",
                smtp_password=TEST_SMTP_PASSWORD,
            )
        defaults.update(fields)
        return ProviderAccount.objects.create(**defaults)

    return make


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_inline():
    """django-q2 tasks run in-process, at once, when queued (after commit): tests see their
    effects without a cluster, and nothing is left in a shared broker."""
    from django_q.conf import Conf

    previous, Conf.SYNC = Conf.SYNC, True
    yield
    Conf.SYNC = previous


@pytest.fixture(autouse=True)
def _fresh_config_caches():
    """Rolled-back test data sends no signals: forget cached configuration between tests."""
    from returns_mail.services import config_cache
    from returns_mail.services.audience import audience_sync_rung
    from returns_mail.services.events import version_locales

    config_cache.clear()
    version_locales.cache_clear()  # ids of rolled-back rows come round again on SQLite
    audience_sync_rung()  # a sync rung by an earlier test, never run, must not silence this one
    yield
    config_cache.clear()
    version_locales.cache_clear()
    audience_sync_rung()


@pytest.fixture
def layout(db):
    from templates_lib.services.defaults import default_layout

    return default_layout({"brand_name": "Test Shop", "support_email": "help@test-shop.example"})


@pytest.fixture
def make_template(layout, django_capture_on_commit_callbacks):
    """Create a template (and its first version); `publish=True` publishes it, running the
    pushes the commit queues."""

    from templates_lib.models import Template
    from templates_lib.services.templates import template_publish, template_version_create

    def make(*, publish: bool = False, translations: dict | None = None, **fields):
        defaults = {
            "name": "Refund processed",
            "slug": "refund-processed",
            "purpose": "transactional",
            "event_types": ["refund.processed"],
            "layout": layout,
            "subject": "Refund {{refund.amount}} {{refund.currency}} for {{return_id}}",
            "html": "<h1>Hi {{customer.first_name}}</h1><p>We refunded {{refund.amount}}.</p>",
        }
        defaults.update(fields)
        template = Template.objects.create(**defaults)
        for locale, content in (translations or {}).items():
            template.translations.create(locale=locale, **content)
        version = template_version_create(template=template)
        if publish:
            with django_capture_on_commit_callbacks(execute=True):
                template_publish(version=version)
            template.refresh_from_db()
        return template

    return make
