"""Secrets are ciphertext at rest, rotate to a new key, and ciphertext never reaches a provider."""

from __future__ import annotations

import importlib
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from providers.checks import stored_secrets_decrypt
from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError
from providers.fields import UndecryptableSecret, reload_keys
from providers.models import ProviderAccount
from providers.services.secrets import UndecryptableSecretsError, secrets_guard

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    """Switch FIELD_ENCRYPTION_KEY (the library caches its crypter: reload it both ways)."""

    original = list(settings.FIELD_ENCRYPTION_KEY)

    def switch(*keys: str) -> None:
        settings.FIELD_ENCRYPTION_KEY = list(keys)
        reload_keys()

    yield switch
    settings.FIELD_ENCRYPTION_KEY = original
    reload_keys()


def raw_column(account_id: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM providers_provideraccount WHERE id = %s",  # noqa: S608
            [account_id],
        )
        return cursor.fetchone()[0]


def fresh(account: ProviderAccount) -> ProviderAccount:
    return ProviderAccount.objects.get(pk=account.pk)


def test_secret_columns_hold_ciphertext(make_account):
    account = make_account("smtp", api_key="SG.plain-api-key-123456", webhook_secret="whsec-98765")

    for column, plaintext in [
        ("api_key", "SG.plain-api-key-123456"),
        ("webhook_secret", "whsec-98765"),
        ("smtp_password", "SG.smtp-relay-password-0001"),
    ]:
        stored = raw_column(account.pk, column)
        assert stored.startswith("gAAAAA")
        assert plaintext not in stored
        assert getattr(fresh(account), column) == plaintext


def test_rotation_from_key_a_to_key_b(make_account, use_keys):
    use_keys(KEY_A)
    account = make_account("sendgrid", api_key="SG.rotate-me-000000001")
    under_a = raw_column(account.pk, "api_key")

    use_keys(KEY_B, KEY_A)
    assert fresh(account).api_key == "SG.rotate-me-000000001"
    call_command("rotate_secrets", stdout=None)
    assert raw_column(account.pk, "api_key") != under_a

    use_keys(KEY_B)
    assert fresh(account).api_key == "SG.rotate-me-000000001"
    use_keys(KEY_A)  # the old key alone no longer reads it: it really is under B now
    assert isinstance(fresh(account).api_key, UndecryptableSecret)


def test_wrong_key_never_sends_ciphertext(make_account, use_keys, esp_sandbox):
    use_keys(KEY_A)
    account = make_account("smtp")
    use_keys(KEY_B)
    account = fresh(account)

    with pytest.raises(ProviderConfigurationError, match="cannot be decrypted"):
        account.secret("smtp_password")
    with pytest.raises(ProviderConfigurationError):
        client_for(account).send(
            OutgoingEmail(
                to=Address("a@example.com"), subject="s", html="h", text="t", correlation_id="c"
            )
        )
    assert esp_sandbox.records("smtp") == []


def test_startup_check_fails_loudly_on_undecryptable_secrets(make_account, use_keys):
    use_keys(KEY_A)
    account = make_account("sendgrid")
    assert stored_secrets_decrypt(None) == []

    use_keys(KEY_B)

    [error] = stored_secrets_decrypt(None)
    assert error.id == "providers.E001"
    assert account.name in error.msg
    assert "api_key" in error.msg
    with pytest.raises(UndecryptableSecretsError):
        secrets_guard()


@pytest.mark.parametrize("entry_point", ["config.wsgi", "config.asgi"])
def test_the_server_entry_points_refuse_to_start_on_undecryptable_secrets(
    entry_point, make_account, use_keys, monkeypatch
):
    use_keys(KEY_A)
    account = make_account("sendgrid")
    use_keys(KEY_B)
    monkeypatch.delitem(sys.modules, entry_point, raising=False)  # imported afresh, as at start

    with pytest.raises(SystemCheckError) as refused:
        importlib.import_module(entry_point)

    assert "providers.E001" in str(refused.value)
    assert account.name in str(refused.value)
    use_keys(KEY_A)
    assert importlib.import_module(entry_point).application is not None


def test_rotation_refuses_and_changes_nothing_when_a_secret_cannot_be_decrypted(
    make_account, use_keys
):
    use_keys(KEY_A)
    account = make_account("sendgrid")
    before = raw_column(account.pk, "api_key")
    use_keys(KEY_B)

    with pytest.raises(CommandError, match="cannot decrypt"):
        call_command("rotate_secrets")

    assert raw_column(account.pk, "api_key") == before


def test_saving_an_account_keeps_undecryptable_ciphertext_intact(make_account, use_keys):
    use_keys(KEY_A)
    account = make_account("sendgrid", api_key="SG.keep-me-intact-00001")
    before = raw_column(account.pk, "api_key")
    use_keys(KEY_B)

    account = fresh(account)
    account.from_name = "Renamed"
    account.save()

    assert raw_column(account.pk, "api_key") == before
    use_keys(KEY_A)
    assert fresh(account).api_key == "SG.keep-me-intact-00001"
