"""Inbound mail as the providers deliver it: a customer's reply posted to the app the way
SendGrid Inbound Parse (multipart/form-data, parsed fields or the raw message; basic auth from
the URL's user:password, as SendGrid takes it) or Mandrill's inbound routes (`mandrill_events`
with an `inbound` event, signed with the route's key) post it.

Control endpoints (providers/sandbox/server.py):
  POST /_sandbox/inbound/targets {"provider", "key", "url", "secret", "domain", "raw"}
       where the provider posts mail received for `domain` (Mandrill signs with `secret`;
       SendGrid's basic auth is the user:password in `url`; `raw`: SendGrid's "send raw")
  POST /_sandbox/inbound {"provider", "key", "to", "from", "subject", "text", "headers"}
       deliver one reply now; answers with the app's status
The SMTP relay hands mail for a target's domain to the same delivery (smtp.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from urllib.parse import urlencode, urlsplit, urlunsplit

PROVIDERS = ("sendgrid", "mandrill")


@dataclass
class InboundTarget:
    url: str
    secret: str = ""  # Mandrill: the key that signs posts
    domain: str = ""  # mail received for this domain is posted here
    raw: bool = False  # SendGrid: post the whole MIME message ("send raw")


def mime_message(
    *, to: str, from_: str, subject: str, text: str, headers: dict[str, str] | None = None
) -> EmailMessage:
    """The reply as a mail client would send it."""
    message = EmailMessage()
    message["From"] = from_
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = value
    message.set_content(text)
    return message


def sendgrid_body(message: EmailMessage, *, raw: bool = False) -> tuple[bytes, str]:
    """(body, content type) of an Inbound Parse post: the parsed fields, or `email` when
    "send raw" is on."""
    to = [address for _, address in getaddresses([str(message["To"])])]
    fields = {
        "from": str(message["From"]),
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "envelope": json.dumps({"to": to[:1], "from": parseaddr(str(message["From"]))[1]}),
        "charsets": json.dumps(
            {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}
        ),
        "SPF": "pass",
        "dkim": "{@customer.example : pass}",
        "sender_ip": "127.0.0.1",
    }
    if raw:
        fields["email"] = message.as_string()
    else:
        head, _, _ = message.as_string().partition("\n\n")
        fields["headers"] = head + "\n"
        fields["text"] = message.get_body(("plain",)).get_content()
        fields["attachments"] = "0"
    boundary = f"xYzZY{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode("utf-8"), f"multipart/form-data; boundary={boundary}"


def mandrill_events(message: EmailMessage) -> list[dict]:
    """The `mandrill_events` of one inbound mail (Mandrill's documented `msg` shape)."""
    to = [address for _, address in getaddresses([str(message["To"])])]
    from_name, from_email = parseaddr(str(message["From"]))
    headers: dict[str, object] = {}
    for name, value in message.items():
        key = "-".join(part.capitalize() for part in name.split("-"))
        if key in headers:
            previous = headers[key]
            headers[key] = (
                [*previous, str(value)]
                if isinstance(previous, list)
                else [
                    previous,
                    str(value),
                ]
            )
        else:
            headers[key] = str(value)
    return [
        {
            "event": "inbound",
            "ts": int(time.time()),
            "msg": {
                "raw_msg": message.as_string(),
                "headers": headers,
                "text": message.get_body(("plain",)).get_content(),
                "text_flowed": False,
                "from_email": from_email,
                "from_name": from_name or None,
                "to": [[address, None] for address in to],
                "email": to[0] if to else "",
                "subject": str(message["Subject"]),
                "tags": [],
                "template": None,
                "sender": None,
                "dkim": {"signed": True, "valid": True},
                "spf": {"result": "pass", "detail": "sender SPF authorized"},
                "spam_report": {"score": 0.1, "matched_rules": []},
            },
        }
    ]


def mandrill_sign(secret: str, url: str, fields: dict[str, str]) -> str:
    signed = url + "".join(name + fields[name] for name in sorted(fields))
    digest = hmac.new(secret.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def inbound_request(
    provider: str, target: InboundTarget, message: EmailMessage
) -> urllib.request.Request:
    """The POST the provider makes for `message` to `target`."""
    if provider == "sendgrid":
        body, content_type = sendgrid_body(message, raw=target.raw)
        parts = urlsplit(target.url)
        headers = {"Content-Type": content_type, "User-Agent": "Sendlib/1.0"}
        url = target.url
        if parts.username is not None:  # SendGrid sends the URL's credentials as basic auth
            credentials = f"{parts.username}:{parts.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            url = urlunsplit(parts._replace(netloc=netloc))
        return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    if provider == "mandrill":
        fields = {"mandrill_events": json.dumps(mandrill_events(message))}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Mandrill-Webhook/1.0",
            "X-Mandrill-Signature": mandrill_sign(target.secret, target.url, fields),
        }
        data = urlencode(fields).encode("ascii")
        return urllib.request.Request(target.url, data=data, headers=headers, method="POST")  # noqa: S310
    raise ValueError(f"no inbound mail for provider {provider!r}")


def inbound_deliver(
    provider: str, target: InboundTarget, message: EmailMessage, timeout: float = 10.0
) -> dict:
    """Post `message` now; the app's status and body (a provider would retry a 5xx)."""
    request = inbound_request(provider, target, message)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return {
                "status": response.status,
                "body": response.read(2000).decode("utf-8", "replace"),
            }
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": exc.read(2000).decode("utf-8", "replace")}
    except OSError as exc:
        return {"status": None, "error": str(exc)}
