"""The analytics admin: one module per area (webhook deliveries; alerts and health checks;
customers' replies)."""

from django.contrib import admin
from django.urls import reverse_lazy

from analytics.admin import alerts, deliveries, replies  # noqa: F401 - each registers its admins

# The admin header's "View site" link leads to the managers' dashboards.
admin.site.site_url = reverse_lazy("analytics:overview")
