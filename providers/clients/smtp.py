"""SMTP relays (SendGrid's, Mailchimp Transactional's, or any other) through Django's backend.

The correlation id travels in our own header and in the relays' own header conventions
(SendGrid `X-SMTPAPI` unique_args, Mandrill `X-MC-Metadata`), so their webhooks echo it back.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
from dataclasses import replace
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

from providers.clients.base import ProviderClient
from providers.clients.capability_types import Reporting
from providers.clients.sender_auth_types import MANDRILL_PLAN, SENDGRID_PLAN, SenderAuthPlan
from providers.clients.types import (
    CORRELATION_HEADER,
    CORRELATION_KEY,
    CredentialCheck,
    OutgoingEmail,
    RecipientResult,
    SendResult,
)
from providers.exceptions import ProviderConfigurationError, ProviderRequestError
from providers.hosts import smtp_port_problem
from providers.models import SmtpSecurity

logger = logging.getLogger(__name__)

# Relay hosts whose provider's SPF include and DKIM records are known (host or its domain).
RELAY_PLANS = (("sendgrid.net", SENDGRID_PLAN), ("mandrillapp.com", MANDRILL_PLAN))


class _Backend(EmailBackend):
    """Django's SMTP backend, also trusting SMTP_CA_FILE (a private relay's or the sandbox's CA)."""

    @property
    def ssl_context(self):
        return ssl.create_default_context(cafile=settings.SMTP_CA_FILE or None)


class SmtpClient(ProviderClient):
    kind = "smtp"
    reporting = Reporting.NOTHING

    # --- sender authentication: the relay's plan ----------------------------------------------
    def sender_auth_plan(self) -> SenderAuthPlan:
        """The plan of the provider behind the relay host when it is a known one (SendGrid's,
        Mandrill's); otherwise only "an SPF record exists" can be checked."""
        host = (self.account.smtp_host or "").strip().lower().rstrip(".")
        for suffix, plan in RELAY_PLANS:
            if host == suffix or host.endswith("." + suffix):
                return replace(plan, provider=f"{plan.provider} (SMTP relay {host})")
        return self.sender_auth

    def _backend(self) -> _Backend:
        account = self.account
        # Checked at every connection too: a row edited past the form still cannot reach a port
        # that is not an SMTP relay's.
        if problem := smtp_port_problem(account.smtp_port):
            raise ProviderConfigurationError(problem, provider=self.kind, account=account.name)
        username = account.smtp_username
        return _Backend(
            host=account.smtp_host,
            port=account.smtp_port,
            username=username,
            password=self.secret("smtp_password") if username else "",
            use_tls=account.smtp_security == SmtpSecurity.STARTTLS,
            use_ssl=account.smtp_security == SmtpSecurity.TLS,
            timeout=account.smtp_timeout or self.timeout,
            fail_silently=False,
        )

    def send(self, email: OutgoingEmail) -> SendResult:
        sender = self.sender(email.sender)
        message_id = make_msgid(domain=sender.email.rpartition("@")[2] or None)
        headers = {
            "Message-ID": message_id,
            CORRELATION_HEADER: email.correlation_id,
            "X-SMTPAPI": json.dumps(
                {
                    "unique_args": {CORRELATION_KEY: email.correlation_id},
                    "category": list(email.categories),
                }
            ),
            "X-MC-Metadata": json.dumps({CORRELATION_KEY: email.correlation_id}),
            **email.headers,
        }
        if email.categories:
            headers["X-MC-Tags"] = ",".join(email.categories)
        reply_to = email.reply_to.email if email.reply_to else self.account.reply_to
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=formataddr((sender.name, sender.email)),
            to=[formataddr((email.to.name, email.to.email))],
            reply_to=[reply_to] if reply_to else None,
            headers=headers,
        )
        message.attach_alternative(email.html, "text/html")
        try:
            # Written out before the relay is contacted: a header Django refuses (an address
            # with a line break) fails for good, and nothing can have reached the relay.
            message.message()
        except ValueError as exc:  # BadHeaderError is one
            raise self.error(f"the message cannot be written: {exc}", permanent=True) from exc
        backend = self._backend()
        self._open(backend)
        try:
            backend.send_messages([message])
        except (smtplib.SMTPException, OSError) as exc:
            # The DATA may have reached the relay before the failure: ambiguous unless the
            # relay answered with a definite refusal.
            raise self._error(exc, during_send=True) from exc
        finally:
            backend.close()
        return SendResult(
            provider_message_id=message_id,
            recipients=(
                RecipientResult(email.to.email, "accepted", provider_message_id=message_id),
            ),
        )

    def check_credentials(self) -> CredentialCheck:
        def probe() -> str:
            backend = self._backend()
            self._open(backend)
            try:
                code, _ = backend.connection.noop()
            finally:
                backend.close()
            login = (
                f"logged in as {self.account.smtp_username}"
                if self.account.smtp_username
                else "no login"
            )
            return f"{self.account.smtp_host}:{self.account.smtp_port} answered {code} ({login})"

        return self.timed_check(probe)

    def _open(self, backend: _Backend) -> None:
        try:
            backend.open()
        except (smtplib.SMTPException, OSError) as exc:
            backend.close()
            if not _no_smtp_server(exc):
                raise self._error(exc, during_send=False) from exc
            # Refused, timed out, closed, or not answering as SMTP: one message for all, so a
            # connection test tells nobody which ports are closed, filtered or another service.
            # The cause goes to the log for the operator.
            where = f"{self.account.smtp_host}:{self.account.smtp_port}"
            logger.warning(
                "SMTP connection of account %s to %s failed: %s",
                self.account.pk,
                where,
                self.scrub(f"{type(exc).__name__}: {exc}"),
            )
            raise self.error(f"could not reach an SMTP server at {where}", permanent=False) from exc

    def _error(self, exc: Exception, *, during_send: bool) -> ProviderRequestError:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, text = next(iter(exc.recipients.values()))
            return self._coded(code, text, "recipient refused")
        if isinstance(exc, smtplib.SMTPResponseException):
            what = (
                "authentication failed"
                if isinstance(exc, smtplib.SMTPAuthenticationError)
                else "refused"
            )
            return self._coded(exc.smtp_code, exc.smtp_error, what)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return self.error(f"relay does not support it: {exc}", permanent=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self.error(f"TLS certificate not trusted: {exc.verify_message}", permanent=True)
        ambiguous = during_send and isinstance(
            exc,
            socket.timeout | TimeoutError | smtplib.SMTPServerDisconnected | ConnectionResetError,
        )
        return self.error(f"{type(exc).__name__}: {exc}", permanent=False, ambiguous=ambiguous)

    def _coded(self, code: int, text, what: str) -> ProviderRequestError:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        # SMTP's own classification: 4xx try again later, 5xx do not.
        return self.error(f"{what}: {code} {text}", code=str(code), permanent=code >= 500)


def _no_smtp_server(exc: Exception) -> bool:
    """Whether opening a connection failed before any SMTP server answered: a socket error, a
    TLS handshake with something that does not speak TLS, a greeting that is not 220 (or no
    SMTP reply at all), or the connection closed. An SMTP server's own refusals (AUTH, STARTTLS)
    and an untrusted certificate are reported as such."""
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, OSError)
