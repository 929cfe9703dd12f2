from django.urls import path

from returns_mail.unsubscribe import views

urlpatterns = [
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/preferences", views.preferences, name="unsubscribe-preferences"),
]
