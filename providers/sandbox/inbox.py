"""The sandbox's inbox: the emails the providers accepted, as a mailbox would show them, so a
demo customer can read a promotional email, follow its links, and unsubscribe in one click the
way Gmail does (an RFC 8058 POST of `List-Unsubscribe=One-Click` to the header's https URL,
made by the sandbox itself, without cookies and without following redirects).

  GET  /_sandbox/inbox                 every email: number, provider, recipient, subject
  GET  /_sandbox/inbox/<n>             one email: its List-Unsubscribe headers and its HTML
  POST /_sandbox/inbox/<n>/one-click   the mailbox provider's one-click unsubscribe
  POST /_sandbox/inbox/<n>/reply       the customer replies (form field `text`): delivered to
                                       the app as inbound mail when its Reply-To is on a domain
                                       with an inbound target (providers/sandbox/inbound.py)

Plain HTML, no script. Built from the records alone (no Django: the sandbox imports no app)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs

from providers.sandbox.core import SandboxResponse

ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
_URI = re.compile(r"<([^<>]+)>")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
table{{border-collapse:collapse}}
td,th{{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}}
iframe{{width:100%;height:40rem;border:1px solid #ccc}}code{{word-break:break-all}}</style>
</head><body><p><a href="/_sandbox/inbox">Inbox</a></p>{body}</body></html>"""


def inbox_emails(records: list[dict]) -> list[dict[str, Any]]:
    """One entry per email delivered, oldest first: provider, to, subject, html, headers."""
    emails = []
    for record in records:
        if record["provider"] == "smtp":
            emails.append(
                {
                    "provider": "smtp",
                    "to": ", ".join(record.get("rcpt_tos") or []),
                    "subject": record.get("subject", ""),
                    "html": record.get("html", ""),
                    "headers": record.get("headers") or {},
                    "reply_to": (record.get("headers") or {}).get("Reply-To", ""),
                }
            )
            continue
        body = record.get("body") if isinstance(record.get("body"), dict) else {}
        shared_reply_to = body.get("reply_to") if isinstance(body.get("reply_to"), dict) else {}
        for entry in record.get("rendered") or []:
            emails.append(
                {
                    "provider": record["provider"],
                    "to": ", ".join(entry.get("to") or []),
                    "subject": entry.get("subject") or "",
                    "html": entry.get("html") or "",
                    "headers": entry.get("headers") or {},
                    # SendGrid: the body's reply_to; Mandrill: the Reply-To header.
                    "reply_to": (entry.get("headers") or {}).get("Reply-To")
                    or shared_reply_to.get("email", ""),
                }
            )
    return emails


def one_click_url(headers: dict[str, str]) -> str | None:
    """The http(s) URL a mailbox provider would POST to: only when the email offers one-click
    (List-Unsubscribe-Post: List-Unsubscribe=One-Click)."""
    wanted = {name.lower(): value for name, value in headers.items()}
    if wanted.get("list-unsubscribe-post", "").strip() != "List-Unsubscribe=One-Click":
        return None
    for uri in _URI.findall(wanted.get("list-unsubscribe", "")):
        if uri.startswith(("https://", "http://")):
            return uri.strip()
    return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # RFC 8058: a redirected POST would become a GET; report the 3xx instead


def one_click_post(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """POST the one-click body to `url` as a mailbox provider does; (status, start of body)."""
    request = urllib.request.Request(  # noqa: S310 - one_click_url gives http(s) URLs only
        url,
        data=ONE_CLICK_BODY,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "esp-sandbox one-click",
        },
    )
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def _html(status: int, title: str, body: str) -> SandboxResponse:
    page = PAGE.format(title=escape(title), body=body)
    return SandboxResponse(
        status, page.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"}
    )


def inbox_page(emails: list[dict]) -> SandboxResponse:
    rows = "".join(
        f'<tr><td><a href="/_sandbox/inbox/{n}">{n}</a></td><td>{escape(e["provider"])}</td>'
        f"<td>{escape(e['to'])}</td><td>{escape(e['subject'])}</td>"
        f"<td>{'one-click' if one_click_url(e['headers']) else ''}</td></tr>"
        for n, e in enumerate(emails, start=1)
    )
    table = (
        "<table><thead><tr><th>#</th><th>Provider</th><th>To</th><th>Subject</th>"
        f"<th>Unsubscribe</th></tr></thead><tbody>{rows}</tbody></table>"
        if emails
        else "<p>No email yet.</p>"
    )
    return _html(200, "Sandbox inbox", f"<h1>Sandbox inbox</h1>{table}")


def email_page(
    n: int, email: dict, result: tuple[int, str] | None = None, reply: dict | None = None
) -> SandboxResponse:
    headers = "".join(
        f"<dt>{escape(name)}</dt><dd><code>{escape(value)}</code></dd>"
        for name, value in email["headers"].items()
        if name.lower().startswith("list-unsubscribe")
    )
    url = one_click_url(email["headers"])
    button = (
        f'<form method="post" action="/_sandbox/inbox/{n}/one-click">'
        '<button type="submit">One-click unsubscribe (as Gmail does)</button></form>'
        if url
        else "<p>This email offers no one-click unsubscribe.</p>"
    )
    outcome = ""
    if result is not None:
        status, text = result
        outcome = (
            f'<p role="status">The sandbox posted <code>List-Unsubscribe=One-Click</code> to '
            f"<code>{escape(url or '')}</code>: HTTP {status or 'no answer'}.</p>"
            f"<details><summary>Answer</summary><pre>{escape(text)}</pre></details>"
        )
    if reply is not None:
        outcome += (
            f'<p role="status">Reply delivered to the app as inbound mail: HTTP '
            f"{escape(str(reply.get('status') or 'no answer'))}.</p>"
        )
    reply_form = (
        f'<form method="post" action="/_sandbox/inbox/{n}/reply"><p>Reply to '
        f"<code>{escape(email['reply_to'])}</code></p>"
        '<textarea name="text" rows="4" cols="60" required></textarea><br>'
        '<button type="submit">Reply (as the customer)</button></form>'
        if email.get("reply_to")
        else ""
    )
    # Links open in a new tab; the frame runs no script.
    document = '<base target="_blank">' + email["html"]
    body = (
        f"<h1>{escape(email['subject'])}</h1>"
        f"<p>To {escape(email['to'])}, through {escape(email['provider'])}</p>"
        f"{outcome}<dl>{headers or '<dt>List-Unsubscribe</dt><dd>none</dd>'}</dl>{button}"
        f"{reply_form}"
        f'<iframe title="The email" sandbox="allow-popups allow-popups-to-escape-sandbox" '
        f'srcdoc="{escape(document, quote=True)}"></iframe>'
    )
    return _html(200, email["subject"] or "Email", body)


def inbox_control(
    method: str,
    path: str,
    records: list[dict],
    reply: Callable[[dict, str], dict] | None = None,
    form: bytes = b"",
) -> SandboxResponse | None:
    """The inbox's answer to `method path` (below /_sandbox), or None when it is not its.
    `reply(email, text)` delivers the customer's reply (the form's body is `form`)."""
    parts = path.strip("/").split("/")
    if parts[0] != "inbox":
        return None
    emails = inbox_emails(records)
    if parts == ["inbox"] and method == "GET":
        return inbox_page(emails)
    if len(parts) < 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(emails):
        return _html(404, "Not found", "<h1>No such email</h1>")
    n = int(parts[1])
    email = emails[n - 1]
    if len(parts) == 2 and method == "GET":
        return email_page(n, email)
    if parts[2:] == ["one-click"] and method == "POST":
        url = one_click_url(email["headers"])
        if url is None:
            return _html(400, "No one-click", "<h1>This email offers no one-click unsubscribe</h1>")
        return email_page(n, email, one_click_post(url))
    if parts[2:] == ["reply"] and method == "POST" and reply is not None:
        text = parse_qs(form.decode("utf-8", "replace")).get("text", [""])[0]
        if not email.get("reply_to") or not text.strip():
            return _html(400, "No reply", "<h1>Nothing to reply to, or an empty reply</h1>")
        try:
            outcome = reply(email, text)
        except ValueError as exc:  # no inbound target for the reply-to's domain
            return _html(400, "No inbound target", f"<h1>{escape(str(exc))}</h1>")
        return email_page(n, email, reply=outcome)
    return _html(405, "Method not allowed", "<h1>Method not allowed</h1>")
