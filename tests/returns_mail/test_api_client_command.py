"""`manage.py api_client create|rotate|list`."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from returns_mail.models import ApiClient
from returns_mail.models.api_clients import token_digest
from returns_mail.services.api_clients import api_client_authenticate
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    EVENTS,
    api_for,
    event_body,
    own_cache_keys_fixture,
    post_json,
)

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("api_client", *args, stdout=out)
    return out.getvalue().splitlines()


def test_create_prints_the_token_once_on_the_last_line():
    lines = run("create", "returns-system", "--scopes", "events:write,messages:read")

    token = lines[-1]
    client = ApiClient.objects.get(name="returns-system")
    assert lines[:-1] == [
        'Created API client "returns-system" (scopes: events:write, messages:read; '
        "6000 requests/minute).",
        "Store the token now; it is not shown again:",
    ]
    assert token.startswith("rm_")
    assert client.token_digest == token_digest(token)
    assert client.scopes == ["events:write", "messages:read"]
    assert post_json(api_for(token), EVENTS, event_body()).status_code == 202


def test_create_with_a_rate_limit_and_one_scope():
    token = run("create", "reader", "--scopes", "messages:read", "--rate-limit", "120")[-1]

    client = api_client_authenticate(token)
    assert (client.name, client.scopes, client.rate_limit_per_minute) == (
        "reader",
        ["messages:read"],
        120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scopes", "events:write,admin"],
            "unknown scopes: admin (known: events:write, messages:read)",
        ),
        (["--scopes", " , "], "--scopes needs at least one of: events:write, messages:read"),
        (["--scopes", "events:write", "--rate-limit", "0"], "--rate-limit must be at least 1"),
    ],
)
def test_create_refuses_bad_options(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create", "x", *args)
    assert not ApiClient.objects.exists()


def test_create_refuses_an_existing_name():
    run("create", "returns-system", "--scopes", "events:write")

    with pytest.raises(CommandError, match="exists; rotate its token instead"):
        run("create", "returns-system", "--scopes", "events:write")


def test_rotate_prints_a_new_token_and_the_old_one_stops_working():
    old = run("create", "returns-system", "--scopes", "events:write")[-1]

    lines = run("rotate", "returns-system")

    new = lines[-1]
    assert lines[0] == 'New token for "returns-system"; the previous one no longer works.'
    assert new != old
    assert api_client_authenticate(old) is None
    assert api_client_authenticate(new).name == "returns-system"


def test_rotate_an_unknown_client_is_an_error():
    with pytest.raises(CommandError, match='no API client named "ghost"'):
        run("rotate", "ghost")


def test_list_shows_clients_without_their_tokens():
    token = run("create", "returns-system", "--scopes", "events:write,messages:read")[-1]
    run("create", "reader", "--scopes", "messages:read")

    lines = run("list")

    assert lines == [
        "name\tactive\tscopes\trate/min\ttoken starts\tlast used",
        f"reader\tyes\tmessages:read\t6000\t{ApiClient.objects.get(name='reader').token_prefix}…"
        "\tnever",
        f"returns-system\tyes\tevents:write,messages:read\t6000\t{token[:10]}…\tnever",
    ]
    assert token not in "\n".join(lines)


def test_list_without_clients():
    assert run("list") == ["No API clients."]


def test_the_command_works_from_the_command_line(manage, child_env):
    env = child_env(DEBUG="true")
    assert manage("migrate", "--verbosity", "0", env=env).returncode == 0

    created = manage("api_client", "create", "cli", "--scopes", "events:write", env=env)

    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[-1]
    assert token.startswith("rm_")
    listed = manage("api_client", "list", env=env)
    assert "cli\tyes\tevents:write" in listed.stdout
    assert token not in listed.stdout
