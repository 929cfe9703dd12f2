"""The Prometheus scrape endpoint, `/metrics`: config/urls.py includes this at the site root
(the dashboards' URLconf lives under /analytics/ and has its own namespace)."""

from django.urls import path

from analytics.views import prometheus

urlpatterns = [
    path("metrics", prometheus.metrics, name="metrics"),
]
