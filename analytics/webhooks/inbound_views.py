"""Inbound mail endpoints (customers' replies), following the event webhooks' rules
(views.py): what the URL and headers prove is checked before a byte of the body is read (a
wrong URL secret, basic auth or Mandrill signature header: 403, nothing stored; SendGrid's 401
asks for the basic auth it lacks), the body is read with `request.read` up to the inbound limit
(413 over it), a verified body that is not the provider's shape is 400, an error of ours 500
so that the provider retries. A mail received before is answered 200 and stores nothing."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt

from analytics.services.replies import inbound_receive
from analytics.webhooks.views import _content_length, _posted_url, _refuse, _too_large
from providers.models import ProviderAccount
from providers.webhooks import (
    WebhookForged,
    WebhookMalformed,
    WebhookTooLarge,
    inbound,
    probe_answer,
)

logger = logging.getLogger(__name__)


def _receive(request: HttpRequest, account: ProviderAccount, url_secret: str | None):
    try:
        response = _answer(request, account, url_secret)
    except Exception:  # e.g. a secret that cannot be decrypted: our fault, the provider retries
        logger.exception("inbound mail for account %s failed", account.pk)
        response = JsonResponse({"error": "internal error; retry later"}, status=500)
    if response.status_code >= 400:
        response._has_been_logged = True  # never the path: it holds SendGrid's URL secret
    return response


def _answer(request: HttpRequest, account: ProviderAccount, url_secret: str | None):
    # Mandrill checks a route's URL with an unsigned HEAD.
    if url_secret is None and probe_answer(account, method=request.method, url_secret=None):
        return HttpResponse(status=200)
    try:
        inbound.verify_url(account, url_secret_given=url_secret)
    except WebhookForged as exc:  # the URL itself is wrong: 403 whatever the method
        return _refuse(request, account, str(exc))
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    try:
        inbound.verify_headers(account, headers=request.headers, url_secret_given=url_secret)
    except inbound.BasicAuthMissing as exc:
        _refuse(request, account, str(exc))  # counted and logged as any refusal
        return JsonResponse(
            {"error": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="inbound"'},
        )
    except WebhookForged as exc:
        return _refuse(request, account, str(exc))
    try:
        inbound.require_length(_content_length(request))
        body = request.read(inbound.MAX_BODY_BYTES + 1)
        inbound.verify(
            account,
            body=body,
            headers=request.headers,
            url=_posted_url(request),
            url_secret_given=url_secret,
        )
    except WebhookTooLarge as exc:
        return _too_large(account, exc)
    except WebhookForged as exc:
        return _refuse(request, account, str(exc))
    try:
        content_type = request.META.get("CONTENT_TYPE", "")  # with its boundary
        mails = inbound.parse(account.kind, body=body, content_type=content_type)
    except WebhookMalformed as exc:
        logger.warning("malformed inbound mail for account %s: %s", account.pk, exc)
        return JsonResponse({"error": "malformed", "detail": str(exc)}, status=400)
    except WebhookTooLarge as exc:
        return _too_large(account, exc)
    received = inbound_receive(account=account, mails=mails)
    return JsonResponse(received.as_dict())


def _account(endpoint: str, account_id: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, pk=account_id, kind=inbound.endpoint_kind(endpoint))


@csrf_exempt
def sendgrid_inbound(request: HttpRequest, account_id: int, secret: str) -> HttpResponse:
    return _receive(request, _account("sendgrid", account_id), secret)


@csrf_exempt
def mandrill_inbound(request: HttpRequest, account_id: int) -> HttpResponse:
    return _receive(request, _account("mandrill", account_id), None)
