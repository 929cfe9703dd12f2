"""Inbound mail endpoints (customers' replies): one per account, like the event webhooks."""

from django.urls import path

from analytics.webhooks import inbound_views

app_name = "inbound"

urlpatterns = [
    path(
        "sendgrid/<int:account_id>/<str:secret>/", inbound_views.sendgrid_inbound, name="sendgrid"
    ),
    path("mandrill/<int:account_id>/", inbound_views.mandrill_inbound, name="mandrill"),
]
