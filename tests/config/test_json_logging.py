"""LOG_FORMAT=json: one JSON object per line; either format scrubs secret shapes from every
record that reaches the console handler."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from config.logging_json import (
    REDACTED,
    JsonFormatter,
    RequestIdMiddleware,
    ScrubSecretsFilter,
    logging_config,
    scrub,
)

SECRETS = {
    "sendgrid": "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",
    "sendgrid short": "SG.testkeyid.testsecret-0001",
    "smtp relay password": "SG.smtp-relay-password-0001",
    "mailchimp": "0123456789abcdef0123456789abcdef-us6",
    "mandrill md-": "md-Ab3dEf6hIj9kLm2nOp5qRs",
    "api token": "rm_Q2hlY2tpbmcgdGhlIHRva2VuIHNoYXBlIGZvciB0ZXN0cw",
}


@pytest.fixture
def console():
    """Configure logging as settings would, into a buffer; restore the previous config after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(fmt: str, level: str = "DEBUG") -> io.StringIO:
        config = logging_config(level, fmt)
        stream = io.StringIO()
        config["handlers"]["console"]["stream"] = stream
        logging.config.dictConfig(config)
        return stream

    yield configure
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message_and_extras(console):
    stream = console("json")

    logging.getLogger("returns_mail.sending").info(
        "sent %s via %s", 42, "sendgrid", extra={"message_id": 42, "account": {"id": 7}}
    )
    logging.getLogger("analytics").warning('multi\nline "quoted" message')

    first, second = lines(stream)
    assert set(first) == {"time", "level", "logger", "message", "message_id", "account"}
    assert first["level"] == "INFO"
    assert first["logger"] == "returns_mail.sending"
    assert first["message"] == "sent 42 via sendgrid"
    assert first["message_id"] == 42
    assert first["account"] == '{"id": 7}'  # non-scalar extras are scrubbed as text
    stamp = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert first["time"].endswith("Z")
    assert stamp.tzinfo == UTC
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert second["message"] == 'multi\nline "quoted" message'
    assert len(stream.getvalue().splitlines()) == 2  # one object per line, newlines escaped


def test_exception_text_is_included_and_scrubbed(console):
    stream = console("json")
    try:
        raise RuntimeError(f"provider said no to {SECRETS['sendgrid']}")
    except RuntimeError:
        logging.getLogger("providers").exception("call failed")

    [entry] = lines(stream)
    assert entry["level"] == "ERROR"
    assert "Traceback (most recent call last)" in entry["exception"]
    assert "RuntimeError: provider said no to [redacted]" in entry["exception"]
    assert SECRETS["sendgrid"] not in stream.getvalue()


def test_request_id_from_the_middleware_or_an_extra(console):
    stream = console("json")
    log = logging.getLogger("returns_mail.api")

    def view(request):
        log.info("inside the request")
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    given = middleware(RequestFactory().get("/", headers={"X-Request-ID": "abc-123"}))
    made = middleware(RequestFactory().get("/", headers={"X-Request-ID": "bad id\n<script>"}))
    log.info("outside any request")
    log.info("explicit", extra={"request_id": "from-extra"})

    inside_given, inside_made, outside, explicit = lines(stream)
    assert given["X-Request-ID"] == inside_given["request_id"] == "abc-123"
    assert made["X-Request-ID"] == inside_made["request_id"]
    assert len(made["X-Request-ID"]) == 32  # a fresh uuid4 hex, not the caller's junk
    assert "request_id" not in outside
    assert explicit["request_id"] == "from-extra"


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", list(SECRETS))
def test_every_secret_shape_is_redacted_in_message_args_and_extras(console, fmt, name):
    stream = console(fmt)
    secret = SECRETS[name]
    log = logging.getLogger("urllib3.connectionpool")

    log.debug("key in the message: %s" % secret)  # noqa: UP031 - pre-formatted on purpose
    log.debug("key as an argument: %s", secret)
    log.debug("key in an extra", extra={"detail": f"header was {secret}"})

    output = stream.getvalue()
    assert secret not in output
    # The text format does not print extra fields; JSON does, scrubbed.
    assert output.count(REDACTED) == (3 if fmt == "json" else 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer rm_abc.def-ghi_jkl", "Authorization: Bearer [redacted]"),
        ("Authorization: Basic YW55c3RyaW5nOmtleQ==", "Authorization: Basic [redacted]"),
        (
            '{"key": "oldStyleMandrillKey123", "message": {}}',
            '{"key": "[redacted]", "message": {}}',
        ),
        ("{'key': 'oldStyleMandrillKey123'}", "{'key': '[redacted]'}"),
        ("GET /x?apikey=abcdef123&x=1", "GET /x?apikey=[redacted]&x=1"),
        ("send: 'AUTH PLAIN AGFwaWtleQBTRy5zbXRw\\r\\n'", "send: 'AUTH PLAIN [redacted]\\r\\n'"),
        # Not secrets: left alone.
        ("custom_args rm_correlation_id=3f2a", "custom_args rm_correlation_id=3f2a"),
        ("idempotency_key=order-1 retried", "idempotency_key=order-1 retried"),
        ("sent 3 of 5 (SG main)", "sent 3 of 5 (SG main)"),
        ("Bearer token missing", "Bearer token missing"),
    ],
)
def test_scrub(text, expected):
    assert scrub(text) == expected


def test_a_broken_format_string_is_still_scrubbed():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%d items for %s", (SECRETS["mailchimp"],), None
    )
    ScrubSecretsFilter().filter(record)
    assert SECRETS["mailchimp"] not in record.getMessage()


def test_text_format_is_the_default_and_unchanged(console):
    stream = console("text")
    logging.getLogger("returns_mail").info("hello %s", "world")
    assert stream.getvalue().rstrip().endswith("INFO returns_mail hello world")
    assert logging_config()["handlers"]["console"]["formatter"] == "text"


def test_an_unknown_format_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        logging_config("INFO", "yaml")


def test_logging_config_keeps_the_quiet_loggers():
    config = logging_config("WARNING", "JSON", q_level="ERROR")
    assert config["root"]["level"] == "WARNING"
    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["loggers"]["mail.log"] == {"level": "ERROR"}
    assert config["loggers"]["django-q"] == {"level": "ERROR"}


def test_the_formatter_serialises_what_json_cannot():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.when = datetime(2026, 1, 1, tzinfo=UTC)
    assert json.loads(JsonFormatter().format(record))["when"] == "2026-01-01 00:00:00+00:00"


def test_object_extras_stay_objects_on_the_record_and_are_scrubbed_in_json(console):
    stream = console("json")
    request = RequestFactory().get("/x")
    seen = []

    class Spy(logging.Handler):
        def emit(self, record):
            seen.append(record)

    spy = Spy()
    logging.getLogger().addHandler(spy)
    try:
        logging.getLogger("django.request").error(
            "Internal Server Error: /x",
            extra={"request": request, "status_code": 500, "body": {"key": SECRETS["mailchimp"]}},
        )
    finally:
        logging.getLogger().removeHandler(spy)

    [entry] = lines(stream)
    assert "request" not in entry
    assert entry["status_code"] == 500
    assert entry["body"] == '{"key": "[redacted]"}'
    assert seen[0].request is request
