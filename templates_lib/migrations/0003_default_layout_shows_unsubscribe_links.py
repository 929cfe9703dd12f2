"""The installed default layout gains the unsubscribe and preference links of promotional mail
(shown only when the email has them: transactional mail is unchanged), so promotional templates
on it keep passing the rule that they show an unsubscribe link. A layout whose footer was
edited away from the default's, or that has the link already, is left as it is."""

from django.db import migrations

DEFAULT_LAYOUT_NAME = "Default brand"
ANCHOR = "            <p>{{brand.name}} · {{brand.address}}</p>\n"
LINKS = (
    '            {{#if unsubscribe_url}}<p class="unsubscribe"><a href="{{unsubscribe_url}}">'
    'Unsubscribe</a>{{#if preferences_url}} · <a href="{{preferences_url}}">Email preferences'
    "</a>{{/if}}</p>{{/if}}\n"
)


def add_links(apps, schema_editor):
    Layout = apps.get_model("templates_lib", "Layout")
    for layout in Layout.objects.filter(name=DEFAULT_LAYOUT_NAME):
        if "unsubscribe_url" in layout.html or layout.html.count(ANCHOR) != 1:
            continue
        layout.html = layout.html.replace(ANCHOR, ANCHOR + LINKS)
        layout.save(update_fields=["html"])


class Migration(migrations.Migration):
    dependencies = [
        ("templates_lib", "0002_sweep_schedule"),
    ]

    operations = [
        migrations.RunPython(add_links, migrations.RunPython.noop),
    ]
