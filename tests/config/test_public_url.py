"""PUBLIC_BASE_URL: the base of the absolute links in emails and of the webhook URLs, with
WEBHOOK_BASE_URL (its former name) still read; a system check when it is missing or wrong."""

from __future__ import annotations

import pytest

from config.public_url import absolute_url, public_base_url_check
from tests.config.test_settings import PRODUCTION, settings_of


@pytest.mark.parametrize(
    ("env", "public", "webhook"),
    [
        ({}, "", ""),
        ({"PUBLIC_BASE_URL": "https://a.example"}, "https://a.example", "https://a.example"),
        # The former name alone still serves both.
        ({"WEBHOOK_BASE_URL": "https://w.example"}, "https://w.example", "https://w.example"),
        # Providers that come in by another address than people.
        (
            {"PUBLIC_BASE_URL": "https://a.example", "WEBHOOK_BASE_URL": "https://w.example"},
            "https://a.example",
            "https://w.example",
        ),
    ],
)
def test_one_public_base_for_links_and_webhooks(child_env, env, public, webhook):
    values = settings_of(child_env(DEBUG="true", **env), "PUBLIC_BASE_URL", "WEBHOOK_BASE_URL")

    assert values == {"PUBLIC_BASE_URL": public, "WEBHOOK_BASE_URL": webhook}


def test_absolute_url_is_on_the_public_base_or_none(settings):
    settings.PUBLIC_BASE_URL = "https://mail.example.com/returns/"
    assert absolute_url("/admin/") == "https://mail.example.com/returns/admin/"
    settings.PUBLIC_BASE_URL = ""
    assert absolute_url("/admin/") is None


@pytest.mark.parametrize(
    ("debug", "url", "ids"),
    [
        (False, "", ["config.W001"]),
        (True, "", []),  # development: links are not mailed to anyone who needs them
        (False, "https://mail.example.com", []),
        (False, "http://127.0.0.1:8000/returns", []),
        (True, "mail.example.com", ["config.E001"]),
        (False, "ftp://mail.example.com", ["config.E001"]),
        (False, "https://mail.example.com/?x=1", ["config.E001"]),
    ],
)
def test_the_system_check_of_the_public_base(settings, debug, url, ids):
    settings.DEBUG, settings.PUBLIC_BASE_URL = debug, url

    assert [m.id for m in public_base_url_check(None)] == ids


def test_production_without_it_warns_in_the_deploy_check(manage, child_env):
    env = child_env(**{k: v for k, v in PRODUCTION.items() if k != "PUBLIC_BASE_URL"})

    proc = manage("check", "--deploy", env=env)

    assert proc.returncode == 0, proc.stderr  # a warning: it starts, the links are missing
    assert "(config.W001) PUBLIC_BASE_URL is not set" in proc.stderr
