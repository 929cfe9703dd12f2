"""/api/v1/... (included by config/urls.py)."""

from django.http import JsonResponse
from django.urls import path, re_path

from returns_mail.api import views
from returns_mail.api.exceptions import error_body

app_name = "api"


def not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's error format, not with an HTML page."""
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


urlpatterns = [
    path("events", views.EventCreateView.as_view(), name="events"),
    path("events/batch", views.EventBatchView.as_view(), name="events-batch"),
    path("events/<int:event_id>", views.EventDetailView.as_view(), name="event-detail"),
    path(
        "returns/<str:return_id>/messages",
        views.ReturnMessagesView.as_view(),
        name="return-messages",
    ),
    re_path(r"^[\s\S]*$", not_found, name="not-found"),  # not ".": a path may hold a line break
]
