"""GET /u/<token>: a confirmation page (a GET never changes anything: mail scanners and link
previews follow every link). POST /u/<token>: the unsubscribe itself, from the page's button or
from a mailbox provider's RFC 8058 one-click POST (`List-Unsubscribe=One-Click`, no cookies:
csrf-exempt, the signed token being the authority). /u/<token>/preferences: offers on or off.

A bad token is 400, an expired one 410, and neither changes anything. Answers are never
redirects (RFC 8058: providers turn a redirected POST into a GET)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from returns_mail.models import ConsentSource, Customer
from returns_mail.services.consent import consent_grant, consent_withdraw, offers_state
from returns_mail.services.unsubscribe_links import (
    LinkExpired,
    LinkInvalid,
    LinkSubject,
    link_subject,
)
from returns_mail.unsubscribe.strings import page_locale, page_strings


def _page(request, template: str, subject: LinkSubject | None, locale: str, status=200, **extra):
    words = page_strings(locale)
    email = subject.email if subject else ""
    context = {
        "t": {k: v.format(email=email) if "{email}" in v else v for k, v in words.items()},
        "lang": locale,
        "email": email,
        **extra,
    }
    return render(request, f"returns_mail/unsubscribe/{template}", context, status=status)


def _subject(request, token: str):
    """(subject, its page locale, None), or (None, "", the error page)."""
    try:
        subject = link_subject(token)
    except LinkExpired:
        return None, "", _page(request, "invalid.html", None, page_locale(), 410, expired=True)
    except LinkInvalid:
        return None, "", _page(request, "invalid.html", None, page_locale(), 400, expired=False)
    customer = Customer.objects.filter(email=subject.email).only("locale").first()
    return subject, page_locale(subject.locale, customer.locale if customer else ""), None


def _detail(subject: LinkSubject) -> str:
    return f"message {subject.ref}" if subject.ref else ""


@never_cache
@csrf_exempt  # RFC 8058: the provider's POST carries no cookie; the signed token authorises
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    subject, locale, error = _subject(request, token)
    if error is not None:
        return error
    if request.method == "POST":
        consent_withdraw(
            email=subject.email,
            source=ConsentSource.UNSUBSCRIBE_LINK,
            at=timezone.now(),
            detail=_detail(subject),
        )
        return _page(request, "done.html", subject, locale, token=token)
    on, _ = offers_state(subject.email)
    template = "confirm.html" if on else "done.html"
    return _page(request, template, subject, locale, token=token)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request, token: str):
    subject, locale, error = _subject(request, token)
    if error is not None:
        return error
    saved = False
    if request.method == "POST":
        at, detail = timezone.now(), _detail(subject)
        if request.POST.get("offers") == "on":
            consent_grant(
                email=subject.email, source=ConsentSource.PREFERENCE_PAGE, at=at, detail=detail
            )
        else:
            consent_withdraw(
                email=subject.email, source=ConsentSource.PREFERENCE_PAGE, at=at, detail=detail
            )
        saved = True
    on, blocked = offers_state(subject.email)
    return _page(
        request, "preferences.html", subject, locale, token=token, offers=on, blocked=blocked,
        saved=saved,
    )  # fmt: skip
