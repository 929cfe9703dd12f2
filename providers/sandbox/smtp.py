"""The sandbox's SMTP relay (aiosmtpd): records each accepted message like the HTTP APIs do.
Mail for a domain with an inbound target (a reply domain) is instead posted to the app as the
provider's inbound parsing would (providers/sandbox/inbound.py).

AUTH accepts any username with a non-empty password, except passwords containing "revoked"
(535), mirroring the HTTP apps. Faults are keyed by the password, as relays key them by API key:
429/500/503 answer 451 (try later), slow delays the reply, drop closes the connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

RECORDED_HEADERS = (
    "Message-ID",
    "Reply-To",
    "X-Returns-Mail-Id",
    "X-SMTPAPI",
    "X-MC-Metadata",
    "X-MC-Tags",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


class _Handler:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    async def handle_DATA(self, server, session, envelope):
        password = session.auth_data.password.decode() if session.auth_data else None
        fault = self.sandbox.faults.take(password)
        if fault is not None:
            if fault.kind == "drop":
                server.transport.close()
                return "421 4.4.2 closing connection"
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            else:
                return "451 4.3.0 Temporary failure, try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        inbound = {self.sandbox.inbound_for(rcpt) for rcpt in envelope.rcpt_tos} - {None}
        if inbound:  # mail to a reply domain: the provider's inbound delivery posts it
            for provider, key in inbound:
                await asyncio.to_thread(self.sandbox.inbound_send, provider, key, message)
            return "250 2.0.0 Message accepted for delivery"
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        self.sandbox.record(
            "smtp",
            None,
            key=password,
            login=session.auth_data.login.decode() if session.auth_data else "",
            tls=server.transport.get_extra_info("ssl_object") is not None,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(message["Subject"]),
            from_=str(message["From"]),
            to=str(message["To"]),
            # Unfolded as a mail client reads them (a long value starts on its own line).
            headers={
                h: str(message[h]).strip() for h in RECORDED_HEADERS if message[h] is not None
            },
            text=text.get_content() if text else "",
            html=html.get_content() if html else "",
        )
        return "250 2.0.0 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    password = auth_data.password.decode()
    if not password or "revoked" in password:
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
    # auth_data is kept on the session: records show the login, faults are keyed by password.
    return AuthResult(success=True, auth_data=auth_data)


class SmtpSandbox:
    """An SMTP server on loopback. `implicit_tls` wraps the socket (SMTPS); a `tls_context`
    without it offers STARTTLS (and then requires it before AUTH)."""

    def __init__(
        self,
        sandbox,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ):
        starttls = tls_context is not None and not implicit_tls
        self.controller = Controller(
            _Handler(sandbox),
            hostname=host,
            port=port or _free_port(host),
            ssl_context=tls_context if implicit_tls else None,
            tls_context=tls_context if starttls else None,
            require_starttls=starttls,
            authenticator=_authenticate,
            auth_require_tls=starttls,
            server_hostname="esp-sandbox.localhost",
        )

    def start(self) -> SmtpSandbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port


def _free_port(host: str) -> int:
    # aiosmtpd's controller must know its port before it starts (it connects to it to check).
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
