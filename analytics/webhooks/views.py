"""Provider webhook endpoints, one per account: check the signature (or URL secret), keep the
raw delivery, process it. Forged requests get 403 and store nothing; bodies larger than the
provider sends 413; malformed ones 400; an error of ours 500, so the provider retries (the raw
delivery is kept for re-processing). A body received before for the account (a replay, or a
retry of one processed) is answered 200 and changes nothing.

Everything the headers (or the URL) can prove is checked before a byte of the body is read, and
the body is read with `request.read` up to the provider's own limit: never `request.body` or
`request.POST`, whose limits (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default, and
DATA_UPLOAD_MAX_NUMBER_FIELDS) are not the providers', and `POST` would build every field of a
body nobody has verified."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from analytics.services.deliveries import webhook_delivery_process, webhook_delivery_store
from config.client_ip import client_ip
from providers.models import ProviderAccount
from providers.webhooks import (
    WebhookForged,
    WebhookMalformed,
    WebhookTooLarge,
    endpoint_kind,
    limits,
    parse,
    probe_answer,
    require_length,
    verify,
    verify_headers,
)
from providers.webhooks.refusals import refusal_record

logger = logging.getLogger(__name__)


def _refuse(request: HttpRequest, account: ProviderAccount, reason: str) -> HttpResponse:
    refusal_record(account_id=account.pk)
    logger.warning(
        "webhook refused for account %s (%s) from %s: %s",
        account.pk,
        account.kind,
        client_ip(request) or "?",
        reason,
    )
    return JsonResponse({"error": "forbidden"}, status=403)


def _too_large(account: ProviderAccount, exc: WebhookTooLarge) -> HttpResponse:
    logger.warning("webhook for account %s refused: %s", account.pk, exc)
    body = {"error": "payload too large", "detail": str(exc), **exc.limits}
    return JsonResponse(body, status=413)


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _posted_url(request: HttpRequest) -> str:
    """The URL the provider was given: WEBHOOK_BASE_URL + path behind a proxy, else as seen."""
    base = settings.WEBHOOK_BASE_URL
    return f"{base.rstrip('/')}{request.get_full_path()}" if base else request.build_absolute_uri()


def _receive(request: HttpRequest, account: ProviderAccount, url_secret: str | None):
    try:
        response = _answer(request, account, url_secret)
    except Exception:  # e.g. a secret that cannot be decrypted: our fault, the provider retries
        logger.exception("webhook for account %s failed", account.pk)
        response = JsonResponse({"error": "internal error; retry later"}, status=500)
    if response.status_code >= 400:
        # Logged here without the path: Django's request logger would write it, and a Mailchimp
        # webhook's path holds the account's URL secret.
        response._has_been_logged = True
    return response


def _answer(request: HttpRequest, account: ProviderAccount, url_secret: str | None):
    try:  # the provider checking the URL (a HEAD, a GET): nothing to store
        if probe_answer(account, method=request.method, url_secret=url_secret):
            return HttpResponse(status=200)
    except WebhookForged as exc:
        return _refuse(request, account, str(exc))
    if request.method != "POST":
        logger.warning("webhook for account %s: method %s refused", account.pk, request.method)
        return HttpResponse(status=405, headers={"Allow": "POST"})
    try:
        verify_headers(account, headers=request.headers, url_secret=url_secret)
    except WebhookForged as exc:
        return _refuse(request, account, str(exc))
    try:
        require_length(account.kind, _content_length(request))  # before reading a byte
    except WebhookTooLarge as exc:
        return _too_large(account, exc)
    # Never more than one byte over the limit, whatever the Content-Length said.
    body = request.read(limits(account.kind).max_body_bytes + 1)
    try:
        verify(
            account,
            body=body,
            headers=request.headers,
            url=_posted_url(request),
            url_secret=url_secret,
        )
    except WebhookForged as exc:
        return _refuse(request, account, str(exc))
    except WebhookTooLarge as exc:
        return _too_large(account, exc)
    content_type = request.content_type or ""
    received_at = timezone.now()
    try:
        batch = parse(account.kind, body=body, content_type=content_type, received_at=received_at)
    except WebhookMalformed as exc:
        logger.warning("malformed webhook for account %s: %s", account.pk, exc)
        return JsonResponse({"error": "malformed", "detail": str(exc)}, status=400)
    delivery = webhook_delivery_store(
        account=account, body=body, content_type=content_type, received_at=received_at
    )
    if delivery is None:
        skipped = len(batch.skipped)
        return JsonResponse(
            {"events": batch.total, "new": 0, "skipped": skipped, "duplicate": True}
        )
    if delivery.received_at != received_at:
        batch = None  # a failed delivery retried: parsed again as first received
    try:
        delivery = webhook_delivery_process(delivery=delivery, batch=batch)
    except Exception:
        logger.exception("webhook delivery %s failed; kept for re-processing", delivery.pk)
        return JsonResponse({"error": "processing failed; retry later"}, status=500)
    if delivery.events_skipped:
        logger.warning(
            "webhook delivery %s: %s event(s) skipped (reasons on the delivery)",
            delivery.pk,
            delivery.events_skipped,
        )
    return JsonResponse(
        {
            "events": delivery.events_total,
            "new": delivery.events_new,
            "skipped": delivery.events_skipped,
        }
    )


def _account(endpoint: str, account_id: int) -> ProviderAccount:
    """The account the URL names, if it is of the kind that posts to this endpoint."""
    return get_object_or_404(ProviderAccount, pk=account_id, kind=endpoint_kind(endpoint))


@csrf_exempt
def sendgrid_events(request: HttpRequest, account_id: int) -> HttpResponse:
    return _receive(request, _account("sendgrid", account_id), None)


@csrf_exempt
def mandrill_events(request: HttpRequest, account_id: int) -> HttpResponse:
    return _receive(request, _account("mandrill", account_id), None)


@csrf_exempt
def mailchimp_audience_events(request: HttpRequest, account_id: int, secret: str) -> HttpResponse:
    return _receive(request, _account("mailchimp", account_id), secret)
