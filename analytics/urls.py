"""The managers' dashboards (analytics.views)."""

from django.urls import path

app_name = "analytics"

urlpatterns: list = []
