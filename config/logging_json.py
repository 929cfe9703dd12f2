"""Logging configuration: plain text or one JSON object per line, and a last line of defence
against secrets in log records.

``settings.LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)``; ``LOG_FORMAT`` is ``text`` (the
default) or ``json``. Either way every record reaching the console handler goes through
`ScrubSecretsFilter` first, which redacts the shapes of the secrets this system handles (SendGrid
keys, Mailchimp and Mandrill keys, bearer and basic credentials, our own ``rm_`` API tokens) from
the message, its arguments, the exception text and extra fields. The clients already scrub their
account's exact secrets (`providers.clients.base.scrub_secrets`); this catches what slips past,
such as a third-party library logging a request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

REDACTED = "[redacted]"
FORMATS = ("text", "json")

#: What a secret looks like, most specific first. Each pattern's whole match is replaced, except
#: a group named ``keep``, which stays (the field name in ``"key": "..."``).
SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # SendGrid API keys: SG.<id>.<secret>; the SMTP relay password is such a key too.
    re.compile(r"\bSG\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]{6,})?"),
    # Mailchimp Marketing API keys: 32 hex digits and the data centre.
    re.compile(r"\b[0-9a-f]{32}-us[0-9]{1,3}\b"),
    # Mailchimp Transactional (Mandrill) keys: md-<22 characters> (newer keys), and any key sent
    # in a Mandrill JSON body or a query string (older keys have no recognisable shape).
    re.compile(r"\bmd-[A-Za-z0-9_-]{10,}"),
    re.compile(r'(?P<keep>"(?:key|api_?key|apikey|password)"\s*:\s*")[^"]+', re.I),
    re.compile(r"(?P<keep>'(?:key|api_?key|apikey|password)'\s*:\s*')[^']+", re.I),
    re.compile(
        r"(?P<keep>[?&\s](?:key|api_?key|apikey|password|(?:access_|api_|auth_)?token|secret)=)"
        r"[^\s&\"',]+",
        re.I,
    ),
    # Credentials in an Authorization header (SendGrid: Bearer; Mailchimp Marketing: Basic).
    re.compile(r"(?P<keep>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
    # SMTP credentials as smtplib sends them (base64 of the user name and password).
    re.compile(r"(?P<keep>\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2)\s+)[A-Za-z0-9+/=]{4,}", re.I),
    # The Mailchimp audience webhook's secret is the last segment of its URL
    # (/webhooks/mailchimp/<account id>/<secret>/), so every request line and "Forbidden: <path>"
    # would carry it.
    re.compile(r"(?P<keep>/webhooks/mailchimp/[^/\s]*/)[^/\s?#\"']+"),
    # Our own API tokens: rm_ and 43 URL-safe characters (rm_correlation_id is not one).
    re.compile(r"\brm_[A-Za-z0-9_-]{20,}"),
)


def _redact(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep")
    return (keep or "") + REDACTED


def scrub(text: str) -> str:
    """``text`` with every secret-shaped substring redacted."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(_redact, text)
    return text


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


class ScrubSecretsFilter(logging.Filter):
    """Redact secret shapes from a record before any handler formats it.

    The message is formatted once here (so a secret passed as an argument is caught too) and
    the arguments dropped; the exception and stack texts are rendered and scrubbed ahead of the
    formatter, which then uses them as they are.
    """

    _renderer = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep both parts, scrubbed
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._renderer.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in extra_fields(record).items():
            if isinstance(value, str):  # objects stay objects (Django's `request`); the JSON
                setattr(record, name, scrub(value))  # formatter scrubs them as it writes them
        return True


def _to_text(value: Any) -> str:
    if not isinstance(value, (dict, list, tuple)):
        return str(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# --- Request ids ---------------------------------------------------------------------------------

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    """Give each request an id (the caller's ``X-Request-ID`` when it is a sane token, else a
    new one), expose it to log records while the request runs, and echo it in the response."""

    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(self.header, "")
        request_id = given if _REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[self.header] = request_id
        return response


# --- Formatters ----------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601, UTC), level, logger, message, exception,
    request_id when known, and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name, value in extra_fields(record).items():
            if name in entry or name == "request":  # Django's HttpRequest: not data
                continue
            if value is None or isinstance(value, (bool, int, float)):
                entry[name] = value
            else:
                entry[name] = scrub(value if isinstance(value, str) else _to_text(value))
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str = "INFO", fmt: str = "text", *, q_level: str = "WARNING") -> dict:
    """The dict for ``settings.LOGGING``: one console handler, text or JSON, secrets scrubbed."""
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub_secrets": {"()": ScrubSecretsFilter}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["scrub_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django gives these two handlers of its own, unscrubbed (the dev server's request
            # lines, "Forbidden: <path>" warnings): none here, so their records reach ours.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "mail.log": {"level": "ERROR"},  # aiosmtpd (the sandbox's SMTP server) logs every line
            "axes": {"level": "WARNING"},  # lockouts and failed logins, not its start-up banner
            "django-q": {"level": q_level},
        },
    }
