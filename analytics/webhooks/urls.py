"""Provider webhook endpoints: one per account (the admin shows each account's URL)."""

from django.urls import path

from analytics.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("sendgrid/<int:account_id>/", views.sendgrid_events, name="sendgrid"),
    path("mandrill/<int:account_id>/", views.mandrill_events, name="mandrill"),
    path(
        "mailchimp/<int:account_id>/<str:secret>/",
        views.mailchimp_audience_events,
        name="mailchimp",
    ),
]
