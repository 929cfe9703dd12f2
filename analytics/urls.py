"""The managers' dashboards (analytics.views)."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("providers/", views.providers, name="providers"),
    path("breakdown/", views.breakdown, name="breakdown"),
    path("messages/", views.messages, name="messages"),
    path("failures/", views.failures, name="failures"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
]
