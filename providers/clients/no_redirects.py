"""Provider API calls never follow redirects.

The base URL of an account is checked against the allowed hosts (providers/hosts.py), but a
redirect would take the call elsewhere with its credentials: SendGrid's urllib opener keeps the
Authorization header on a redirect to another host, and requests (both Mailchimp SDKs) re-sends
a Mandrill body, API key included, on a 307/308. No provider API answers with a redirect, so
one is refused and reported as a permanent error naming where it pointed.

The SDKs take their HTTP functions from module globals (`urllib` in python_http_client,
`requests` in both Mailchimp SDKs), and only our clients use these SDKs: `install()` gives
those modules versions that do not follow redirects. It runs when providers.clients is imported.
"""

from __future__ import annotations

import types
import urllib.request
from urllib.parse import urlsplit

import mailchimp_marketing.api_client
import mailchimp_transactional.api_client
import python_http_client.client
import requests


class RedirectRefused(requests.RequestException):
    """A provider answered with a redirect, which was not followed."""


def redirect_description(status: int, location: str | None) -> str:
    target = urlsplit(location or "")
    where = f"{target.scheme}://{target.netloc}" if target.netloc else "another address"
    return (
        f"the provider answered HTTP {status}, a redirect to {where}; not followed, so the "
        "credentials stay with the account's API base URL (check the URL)"
    )


def _without_redirects(method: str):
    def call(url, **kwargs):
        # The SDKs pass their own timeout.
        response = requests.request(method, url, allow_redirects=False, **kwargs)  # noqa: S113
        if response.is_redirect:
            response.close()
            raise RedirectRefused(
                redirect_description(response.status_code, response.headers.get("Location")),
                response=response,
            )
        return response

    return call


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


SDK_REQUESTS = types.SimpleNamespace(
    **{
        name.lower(): _without_redirects(name)
        for name in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
    }
)
SDK_URLLIB = types.SimpleNamespace(
    build_opener=lambda *handlers: urllib.request.build_opener(_RefuseRedirects, *handlers),
    Request=urllib.request.Request,
)


def install() -> None:
    python_http_client.client.urllib = SDK_URLLIB
    mailchimp_marketing.api_client.requests = SDK_REQUESTS
    mailchimp_transactional.api_client.requests = SDK_REQUESTS
