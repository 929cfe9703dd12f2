"""Provider webhook endpoints: one per account."""

from django.urls import path

app_name = "webhooks"

urlpatterns: list = []
