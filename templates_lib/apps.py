"""Email templates, versions, rendering and publishing to providers."""

from django.apps import AppConfig


class TemplatesLibConfig(AppConfig):
    name = "templates_lib"
    verbose_name = "Template library"
