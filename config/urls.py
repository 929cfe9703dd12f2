from django.contrib import admin
from django.urls import include, path

from config import health, landing

# The apps' URLconfs by dotted path: config is the layer every app imports, so it imports none.
urlpatterns = [
    path("", landing.landing, name="landing"),
    path("favicon.ico", landing.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # GET /metrics (Prometheus), not namespaced.
    path("", include("analytics.prometheus_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("returns_mail.api.urls")),
    # The OpenAPI schema and Swagger UI: api/schema/ and api/docs/ (login required).
    path("api/", include("returns_mail.api.docs")),
    path("analytics/", include("analytics.urls")),
    path("webhooks/", include("analytics.webhooks.urls")),
    # Customers' replies as the providers post them (SendGrid Inbound Parse, Mandrill inbound).
    path("inbound/", include("analytics.webhooks.inbound_urls")),
    # The public unsubscribe and preference pages promotional emails link to (u/<token>).
    path("", include("returns_mail.unsubscribe.urls")),
]
