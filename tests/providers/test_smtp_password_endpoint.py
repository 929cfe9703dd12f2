"""An SMTP password goes only to the host, port and security it was entered for: moving the
account elsewhere without entering it again clears it, on every path below the admin form."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError

from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from providers.exceptions import ProviderConfigurationError
from providers.models import ProviderAccount, SecretChange
from providers.sandbox.smtp import SmtpSandbox
from providers.services.accounts import account_secrets_set
from tests.conftest import TEST_SMTP_PASSWORD

pytestmark = pytest.mark.django_db


def email() -> OutgoingEmail:
    return OutgoingEmail(
        to=Address("customer@example.com"),
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        correlation_id="m1",
    )


@pytest.fixture
def other_relay(esp_sandbox, settings):
    """A second SMTP server (another host, as far as the account can tell), port allowed."""
    relay = SmtpSandbox(esp_sandbox).start()
    settings.SMTP_EXTRA_PORTS = [*settings.SMTP_EXTRA_PORTS, relay.port]
    yield relay
    relay.stop()


def stored(account) -> ProviderAccount:
    return ProviderAccount.objects.get(pk=account.pk)


def test_saving_the_account_on_another_port_clears_the_password(
    make_account, esp_sandbox, other_relay
):
    account = make_account("smtp")

    account.smtp_port = other_relay.port
    account.save()

    assert stored(account).smtp_password == ""
    with pytest.raises(ProviderConfigurationError, match="smtp_password is not set"):
        client_for(stored(account)).send(email())
    assert esp_sandbox.records("smtp") == []  # the other relay never saw it


@pytest.mark.parametrize(
    "change",
    [{"smtp_host": "relay.evil.example"}, {"smtp_port": 2525}, {"smtp_security": "tls"}],
    ids=["host", "port", "security"],
)
def test_each_of_host_port_and_security_clears_it(make_account, change):
    account = make_account("smtp")

    for field, value in change.items():
        setattr(account, field, value)
    account.save(update_fields=list(change))  # even a save that names only the moved field

    assert stored(account).smtp_password == ""


def test_other_changes_keep_it(make_account):
    account = make_account("smtp")

    account.smtp_username = "relay-user"
    account.from_name = "Renamed"
    account.save()

    assert stored(account).smtp_password == TEST_SMTP_PASSWORD


def test_a_new_password_with_the_move_is_kept_for_the_new_server(
    make_account, esp_sandbox, other_relay
):
    account = make_account("smtp")

    account.smtp_port = other_relay.port
    account.smtp_password = "SG.new-relay-password-0002"
    account.save()

    client_for(stored(account)).send(email())
    [record] = esp_sandbox.records("smtp")
    assert record["key"] == "...0002"


def test_a_row_moved_in_the_database_never_hands_the_password_to_the_new_server(
    make_account, esp_sandbox, other_relay
):
    account = make_account("smtp")
    ProviderAccount.objects.filter(pk=account.pk).update(smtp_port=other_relay.port)

    moved = stored(account)
    check = client_for(moved).check_credentials()
    with pytest.raises(ProviderConfigurationError, match="entered for another SMTP host") as caught:
        client_for(moved).send(email())

    assert caught.value.permanent
    assert not check.ok
    assert "enter it again" in check.detail
    assert esp_sandbox.records("smtp") == []
    moved.save()  # and the next save clears it for good
    assert stored(account).smtp_password == ""


def test_the_service_clears_it_and_records_that(make_account, other_relay, django_user_model):
    admin = django_user_model.objects.create_user("ita", "ita@shop.example", "pw-for-tests-1")
    account = make_account("smtp")

    account.smtp_port = other_relay.port
    changed = account_secrets_set(account=account, secrets={"smtp_password": ""}, actor=admin)

    assert changed == ["smtp_password"]
    assert stored(account).smtp_password == ""
    assert list(SecretChange.objects.values_list("field", "changed_by")) == [
        ("smtp_password", admin.pk)
    ]
    assert list(LogEntry.objects.values_list("change_message", flat=True)) == [
        "smtp_password cleared: the SMTP host, port or security changed"
    ]


def test_the_same_password_entered_again_through_the_service_follows_the_move(
    make_account, esp_sandbox, other_relay
):
    """The SendGrid relay's key is the same on port 587 and 465: typing it again is enough."""
    account = make_account("smtp")

    account.smtp_port = other_relay.port
    changed = account_secrets_set(account=account, secrets={"smtp_password": TEST_SMTP_PASSWORD})

    assert changed == []  # the value did not change: no secret change to record
    client_for(stored(account)).send(email())
    [record] = esp_sandbox.records("smtp")
    assert record["key"] == "...0001"


def test_a_refused_save_changes_nothing(make_account):
    account = make_account("smtp", webhook_secret="")
    account.smtp_host = "relay.evil.example"
    account.kind = "mailchimp_marketing"

    with pytest.raises(ValidationError):
        account_secrets_set(account=account, secrets={"webhook_secret": "too-short"})

    row = stored(account)
    assert (row.kind, row.smtp_host, row.smtp_password) == ("smtp", "127.0.0.1", TEST_SMTP_PASSWORD)
