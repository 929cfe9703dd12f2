"""Settings come from the environment, fail closed in production, and keep SQLite and the
task queue safe. Each case runs the project in a child process with its own environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.conftest import PROJECT_DIR

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60 + "-production-secret-key-with-enough-entropy",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mail.example.com",
    "PUBLIC_BASE_URL": "https://mail.example.com",
}

# Warnings `check --deploy` may still print in production, each explained in the README.
EXPLAINED_DEPLOY_WARNINGS = {"security.W021"}


def settings_of(env: dict[str, str], *names: str):
    """Import the settings in a child process and return the requested values as JSON."""
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_naming_the_missing_variable(manage, child_env, missing):
    env = child_env(**{k: v for k, v in PRODUCTION.items() if k != missing})

    proc = manage("check", env=env)

    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert f"required: {missing}" in proc.stderr


def test_production_names_every_missing_variable_at_once(manage, child_env):
    proc = manage("check", env=child_env(DEBUG="false"))

    assert proc.returncode != 0
    assert "required: ALLOWED_HOSTS, FIELD_ENCRYPTION_KEY, SECRET_KEY" in proc.stderr


def test_debug_defaults_to_off(manage, child_env):
    proc = manage("check", env=child_env())  # no DEBUG at all: production rules apply

    assert proc.returncode != 0
    assert "DEBUG is off" in proc.stderr


def test_check_deploy_has_no_errors_and_only_explained_warnings(manage, child_env):
    proc = manage("check", "--deploy", env=child_env(**PRODUCTION))

    assert proc.returncode == 0, proc.stderr
    assert "ERRORS" not in proc.stderr
    warnings = set(re.findall(r"\((security\.W\d+)\)", proc.stderr))
    assert warnings == EXPLAINED_DEPLOY_WARNINGS


def test_development_keys_are_generated_once_into_the_data_dir(child_env, tmp_path):
    env = child_env(DEBUG="true")

    first = settings_of(env, "SECRET_KEY", "FIELD_ENCRYPTION_KEY")
    second = settings_of(env, "SECRET_KEY", "FIELD_ENCRYPTION_KEY")

    assert first == second
    key_file = tmp_path / "data" / "dev-field-encryption-key"
    assert key_file.read_text().strip() == first["FIELD_ENCRYPTION_KEY"][0]
    assert key_file.stat().st_mode & 0o777 == 0o600
    Fernet(first["FIELD_ENCRYPTION_KEY"][0])  # a usable key, not a placeholder


def test_encryption_key_list_keeps_order_for_rotation(child_env):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = child_env(**{**PRODUCTION, "FIELD_ENCRYPTION_KEY": f"{new},{old}"})

    assert settings_of(env, "FIELD_ENCRYPTION_KEY") == {"FIELD_ENCRYPTION_KEY": [new, old]}


def test_default_database_is_sqlite_in_wal_mode_with_a_busy_timeout(child_env, tmp_path):
    code = (
        "import django; django.setup(); from django.db import connection;"
        "c = connection.cursor();"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0],"
        " c.execute('PRAGMA busy_timeout').fetchone()[0], connection.settings_dict['NAME'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env={**child_env(DEBUG="true"), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, proc.stderr
    journal_mode, busy_timeout_ms, name = proc.stdout.split()
    assert journal_mode == "wal"
    assert int(busy_timeout_ms) == 20_000
    assert name == str(tmp_path / "data" / "db.sqlite3")


def test_task_queue_uses_the_orm_broker_by_default(child_env):
    q = settings_of(child_env(DEBUG="true"), "Q_CLUSTER")["Q_CLUSTER"]

    assert q["orm"] == "default"
    assert "redis" not in q
    assert q["timeout"] < q["retry"]
    assert q["save_limit"] == -1
    assert 1 <= q["max_attempts"] <= 10
    assert q["name"] == "returns-mail"


def test_task_queue_uses_redis_when_redis_url_is_set(child_env):
    env = child_env(DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/3")

    q = settings_of(env, "Q_CLUSTER")["Q_CLUSTER"]

    assert "orm" not in q
    assert q["redis"].startswith("redis://127.0.0.1:6379/3?")
    assert "socket_timeout=5" in q["redis"]


def test_task_timeout_not_below_retry_is_refused(manage, child_env):
    proc = manage("check", env=child_env(DEBUG="true", Q_TIMEOUT="120", Q_RETRY="100"))

    assert proc.returncode != 0
    assert "Q_RETRY (100) must be greater than Q_TIMEOUT (120)" in proc.stderr


def test_smtp_extra_ports_default_to_the_sandbox_only_where_loopback_is_allowed(child_env):
    def ports(**env: str):
        return settings_of(child_env(**env), "SMTP_EXTRA_PORTS")["SMTP_EXTRA_PORTS"]

    assert ports(**PRODUCTION) == []
    assert ports(DEBUG="true", ESP_SANDBOX_PORT="9025") == [9026]  # the demo's SMTP relay
    assert ports(**PRODUCTION, SMTP_EXTRA_PORTS=" 2526, 10025 ") == [2526, 10025]
    assert ports(DEBUG="true", SMTP_EXTRA_PORTS="") == []  # set, even empty: no default


@pytest.mark.parametrize("value", ["2526,redis", "0", "70000", "-25"])
def test_a_smtp_extra_port_that_is_no_port_is_refused(manage, child_env, value):
    proc = manage("check", env=child_env(DEBUG="true", SMTP_EXTRA_PORTS=value))

    assert proc.returncode != 0
    assert "SMTP_EXTRA_PORTS must be comma-separated port numbers" in proc.stderr


def test_sender_auth_nameservers_are_ip_addresses_with_optional_ports(child_env):
    def servers(value: str):
        env = child_env(DEBUG="true", SENDER_AUTH_NAMESERVERS=value)
        return settings_of(env, "SENDER_AUTH_NAMESERVERS")["SENDER_AUTH_NAMESERVERS"]

    assert servers("") == []  # the system's resolver
    assert servers("127.0.0.1:5353, 9.9.9.9, [::1]:53") == [
        ["127.0.0.1", 5353],
        ["9.9.9.9", 53],
        ["::1", 53],
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SENDER_AUTH_NAMESERVERS": "dns.example"}, "SENDER_AUTH_NAMESERVERS must be"),
        ({"SENDER_AUTH_NAMESERVERS": "127.0.0.1:0"}, "'127.0.0.1:0' is not one"),
        ({"SENDER_AUTH_DNS_TIMEOUT": "0"}, "SENDER_AUTH_DNS_TIMEOUT must be more than 0"),
    ],
)
def test_bad_sender_auth_dns_settings_are_refused(manage, child_env, env, message):
    proc = manage("check", env=child_env(DEBUG="true", **env))

    assert proc.returncode != 0
    assert message in proc.stderr


def test_unsubscribe_link_settings_are_typed_with_a_derived_mailto(child_env, manage):
    def values(**env: str):
        names = ("UNSUBSCRIBE_LINK_MAX_AGE_DAYS", "UNSUBSCRIBE_MAILTO")
        return tuple(settings_of(child_env(DEBUG="true", **env), *names).values())

    assert values() == (90, "")
    assert values(PUBLIC_BASE_URL="https://mail.shop.example") == (
        90,
        "unsubscribe@mail.shop.example",
    )
    assert values(PUBLIC_BASE_URL="http://127.0.0.1:8000") == (90, "")  # no mailbox there
    assert values(
        PUBLIC_BASE_URL="https://mail.shop.example",
        UNSUBSCRIBE_MAILTO="",  # set, even empty: no mailto
        UNSUBSCRIBE_LINK_MAX_AGE_DAYS="30",
    ) == (30, "")
    proc = manage("check", env=child_env(DEBUG="true", UNSUBSCRIBE_LINK_MAX_AGE_DAYS="0"))
    assert proc.returncode != 0
    assert "UNSUBSCRIBE_LINK_MAX_AGE_DAYS must be at least 1" in proc.stderr
