"""Provider x failure kind: no secret reaches a log record, an error, or a stored row.

test_secrets_in_logs.py checks the bare clients' rejected-key, timeout and drop paths against
the formatted log text. This matrix goes through the services that store what happened (the
send pipeline's Attempt and Message rows, the credential check's HealthCheck row and the
account's last check) as well as the bare client, adds 429s, 5xx and keys a transport refuses,
captures every logger at DEBUG (root, urllib3, requests, python_http_client, the Mailchimp SDKs,
Django's SMTP backend) and inspects each record's message, arguments and exception text.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import traceback

import pytest

from analytics.models import Alert, HealthCheck
from analytics.services.health import account_health_check
from providers.clients import client_for
from providers.exceptions import ProviderError
from providers.models import ProviderAccount
from providers.sandbox.core import Fault
from returns_mail.models import AccountCircuit, Attempt, Message, RuleAccount, TriggerRule
from returns_mail.services.api_clients import api_client_create
from returns_mail.services.events import event_ingest, request_digest
from templates_lib.models import Template
from templates_lib.services.defaults import defaults_install
from tests.conftest import TEST_KEYS, TEST_SMTP_PASSWORD
from tests.providers.test_secrets_in_logs import attempt as main_call
from tests.returns_mail.conftest import event_input

pytestmark = pytest.mark.django_db

PROVIDERS = ["sendgrid", "mailchimp_marketing", "mailchimp_transactional", "smtp"]
SENDS = {"sendgrid", "mailchimp_transactional", "smtp"}  # the kinds the outbox sends through
FAILURES = ["revoked", "429", "500", "503", "timeout", "drop", "unsendable_key"]
TIMEOUT = 0.3
#: A logger each kind's transport writes to at DEBUG (SMTP: the relay's own session log).
TRANSPORT_LOGGERS = {
    "sendgrid": "python_http_client.client",
    "mailchimp_marketing": "urllib3.connectionpool",
    "mailchimp_transactional": "urllib3.connectionpool",
    "smtp": "mail.log",
}
WEBHOOK_SECRET = "whsec-matrix-never-logged-000000009931"
REVOKED = {
    "sendgrid": "SG.revokedkeyid.revoked-secret-matrix-4711",
    "mailchimp_marketing": "fedcba9876543210fedcbrevoked4711-us6",
    "mailchimp_transactional": "md-revokedMatrixKey4711xyz",
    "smtp": "SG.smtp-revoked-password-matrix-4711",
}

# Found by this matrix; to be fixed in providers/ (not this test's to change). Strict: the test
# fails as soon as the leak is fixed, so the entry is then removed.
KNOWN_LEAKS: dict[tuple[str, str], str] = {}  # (provider, failure) -> the leak, while open


def _secret_field(kind: str) -> str:
    return "smtp_password" if kind == "smtp" else "api_key"


def _working_secret(kind: str) -> str:
    return TEST_SMTP_PASSWORD if kind == "smtp" else TEST_KEYS[kind]


@pytest.fixture
def all_logs_at_debug(caplog):
    """Every logger that exists now (SDKs included) at DEBUG and propagating into caplog."""
    caplog.set_level(logging.DEBUG)
    saved = {}
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for name in (
        "urllib3",
        "requests",
        "python_http_client",
        "mailchimp_marketing",
        "mailchimp_transactional",
        "django.core.mail",
        "smtplib",
        "providers",
    ):
        loggers.append(logging.getLogger(name))
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            saved[logger] = (logger.level, logger.propagate, logger.disabled)
            logger.setLevel(logging.DEBUG)
            logger.propagate = True
            logger.disabled = False
    yield caplog
    for logger, (level, propagate, disabled) in saved.items():
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    """Everything a handler could write for each record: message, raw msg and args, exception."""
    texts = []
    for record in records:
        parts = [str(record.msg), repr(record.args)]
        with contextlib.suppress(Exception):  # a broken format still has its parts above
            parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        parts.extend(filter(None, [record.exc_text, record.stack_info]))
        texts.append("\n".join(parts))
    return texts


def exception_text(exc: BaseException) -> str:
    """str and repr of the error and of everything chained to it, and the full traceback."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts += [str(exc), repr(exc), repr(getattr(exc, "__dict__", {}))]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def stored_texts() -> str:
    """Every column of every row the failure paths write (the account's secrets, encrypted at
    rest, are the one thing left out: only its last-check columns are read)."""
    rows = []
    for model in (Attempt, Message, HealthCheck, AccountCircuit, Alert):
        rows += [repr(row) for row in model.objects.values()]
    rows += [
        repr(row) for row in ProviderAccount.objects.values("last_check_detail", "last_check_ok")
    ]
    return "\n".join(rows)


def forms_of(secret: str) -> list[str]:
    """The secret and the encodings that are as good as it: trimmed, and base64 as HTTP basic
    auth and SMTP AUTH PLAIN/LOGIN carry it."""
    trimmed = secret.strip()
    return [
        trimmed,
        base64.b64encode(f"anystring:{trimmed}".encode()).decode(),
        base64.b64encode(f"\0apikey\0{trimmed}".encode()).decode(),
        base64.b64encode(trimmed.encode()).decode(),
    ]


def _account(make_account, kind: str, failure: str) -> tuple[ProviderAccount, str]:
    field = _secret_field(kind)
    secret = _working_secret(kind)
    if failure == "revoked":
        secret = REVOKED[kind]
    elif failure == "unsendable_key":
        # A key pasted with a line break (an env file, a copied cell): the transport refuses
        # it, and its error quotes the header it refused.
        secret = f"{secret}\r\n"
    account = make_account(kind, **{field: secret, "webhook_secret": WEBHOOK_SECRET})
    return account, secret


def _faults(esp_sandbox, secret: str, failure: str) -> None:
    fault = {
        "429": Fault("429", retry_after=30),
        "500": Fault("500"),
        "503": Fault("503", retry_after=30),
        "timeout": Fault("slow", delay=1.0),
        "drop": Fault("drop"),
    }.get(failure)
    if fault is not None:
        esp_sandbox.faults.add(secret, fault)


def _send_through_the_outbox(account: ProviderAccount, django_capture_on_commit_callbacks):
    """An event whose rule routes to `account`: the worker's send runs inline on commit."""
    defaults_install()
    template = {t.event_types[0]: t for t in Template.objects.all()}["refund.processed"]
    rule = TriggerRule.objects.create(
        name="matrix rule", event_type="refund.processed", template=template
    )
    RuleAccount.objects.create(rule=rule, account=account, position=0, weight=1)
    client, _ = api_client_create(name="matrix", scopes=["events:write"])
    event = event_input()
    with django_capture_on_commit_callbacks(execute=True):
        event_ingest(
            client=client,
            event=event,
            idempotency_key="matrix-1",
            digest=request_digest({"type": event.type, "return_id": event.return_id}),
        )
    return Message.objects.get(rule=rule)


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("kind", PROVIDERS)
def test_no_secret_reaches_logs_errors_or_rows(
    make_account,
    esp_sandbox,
    all_logs_at_debug,
    settings,
    django_capture_on_commit_callbacks,
    capfd,
    request,
    kind,
    failure,
):
    if (kind, failure) in KNOWN_LEAKS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_LEAKS[kind, failure]))
    settings.PROVIDER_TIMEOUT = TIMEOUT
    account, secret = _account(make_account, kind, failure)
    _faults(esp_sandbox, secret, failure)
    secrets = [*forms_of(secret), WEBHOOK_SECRET]

    # 1. The bare client: the error it raises. A key with a line break is refused by some
    # transports (SendGrid's header) and passes through others (a JSON body, SMTP AUTH's
    # base64): either way nothing may leak.
    permanent, error = None, ""
    try:
        main_call(client_for(account, timeout=TIMEOUT))
    except ProviderError as exc:
        permanent, error = exc.permanent, exception_text(exc)
    if error:
        assert permanent is (failure in {"revoked", "unsendable_key"}), error
    else:
        assert failure == "unsendable_key", "the failure never happened: nothing was tested"

    # 2. The credential check, as the minute schedule runs it: a HealthCheck row. (The SMTP
    # sandbox's faults hit DATA, so its login still passes then.)
    check = account_health_check(account_id=account.pk)
    assert check is not None
    if failure == "revoked" or (failure != "unsendable_key" and kind != "smtp"):
        assert check.ok is False

    # 3. The outbox: a message whose send fails, with its Attempt row.
    if kind in SENDS:
        message = _send_through_the_outbox(account, django_capture_on_commit_callbacks)
        attempt = Attempt.objects.get(message=message)
        if error:
            assert attempt.outcome in {"transient", "permanent", "ambiguous"}
            assert attempt.error, "the failure was not recorded: the row check proves nothing"

    esp_sandbox.faults.clear()
    esp_sandbox.wait_idle()
    records = all_logs_at_debug.records
    if failure != "unsendable_key":  # the SDK transports logged at DEBUG: they were heard
        assert TRANSPORT_LOGGERS[kind] in {record.name for record in records}
    assert records, "nothing was logged: the log check would prove nothing"
    logged = record_texts(records)
    stored = stored_texts()
    out, err = capfd.readouterr()  # smtplib/http.client debug output goes to stdout/stderr
    for value in secrets:
        assert value not in error, f"secret in the raised error: {error}"
        leaks = [text for text in logged if value in text]
        assert not leaks, f"secret in {len(leaks)} log record(s), first: {leaks[0][:500]}"
        assert value not in stored, "secret in a stored row"
        assert value not in out + err
