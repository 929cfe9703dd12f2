"""`manage.py load_default_templates`: install the default layout and templates."""

from django.core.management.base import BaseCommand

from templates_lib.services.defaults import defaults_install


class Command(BaseCommand):
    help = (
        "Create the default branded layout and one published template per event type of the "
        "catalogue. Existing templates (same slug) are left alone."
    )

    def handle(self, *args, **options):
        created = defaults_install()
        self.stdout.write(f"Installed {len(created)} default template(s).")
