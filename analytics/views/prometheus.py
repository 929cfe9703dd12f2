"""`GET /metrics`: the operational gauges (analytics.selectors.prometheus) for Prometheus.

Who may scrape: a request carrying ``Authorization: Bearer <METRICS_TOKEN>`` (compared in
constant time), or a signed-in IT admin (superuser or the *IT admins* group). Everyone else gets
the same bare 403, whether or not a token is configured, so the answer reveals nothing; with no
``METRICS_TOKEN`` only IT admin sessions get through.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from analytics.selectors.prometheus import collect, render
from returns_mail.roles import is_it_admin

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_token() -> str:
    return settings.METRICS_TOKEN


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def scrape_allowed(request: HttpRequest) -> bool:
    token, given = metrics_token(), _bearer(request)
    if token and given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    return is_it_admin(getattr(request, "user", None))


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(render(collect()), content_type=CONTENT_TYPE)
