"""IT admins edit, preview, test-send, publish and check templates in the admin."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from returns_mail.roles import IT_ADMINS, MANAGERS
from templates_lib.models import SyncStatus, Template, TemplateVersion

pytestmark = pytest.mark.django_db


def login(client, role):
    user = get_user_model().objects.create_user(
        f"{role[:3]}", "x@shop.example", "pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def change_data(template: Template, client=None, **overrides) -> dict:
    """The change form as the browser would post it (inline management forms included)."""
    data = {
        "name": template.name,
        "slug": template.slug,
        "purpose": template.purpose,
        "event_types": template.event_types,
        "layout": template.layout_id,
        "default_locale": template.default_locale,
        "subject": template.subject,
        "html": template.html,
        "text": template.text,
    }
    page = client.get(change_url(template))
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(formset.initial_form_count())
        data[f"{formset.prefix}-INITIAL_FORMS"] = str(formset.initial_form_count())
    data.update(overrides)
    return data


def change_url(template):
    return reverse("admin:templates_lib_template_change", args=[template.pk])


def test_editing_creates_a_version_and_publishing_pushes_it(
    client, make_template, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS)
    make_account("sendgrid")
    template = make_template(publish=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            change_url(template),
            change_data(
                template, client, subject="Money back: {{refund.amount}}", _saveandpublish="1"
            ),
            follow=True,
        )

    assert response.status_code == 200
    template.refresh_from_db()
    assert template.active_version.number == 2
    assert template.active_version.contents["en"]["subject"] == "Money back: {{refund.amount}}"
    assert "Saved and published version 2." in [str(m) for m in response.context["messages"]]
    assert {s.status for s in template.syncs.all()} == {SyncStatus.CURRENT}
    last = esp_sandbox.records("sendgrid")[-1]
    assert last["body"]["subject"] == "Money back: {{{refund.amount}}}"


def test_unknown_variable_is_a_form_error_naming_it_and_nothing_is_saved(client, make_template):
    login(client, IT_ADMINS)
    template = make_template()

    response = client.post(
        change_url(template),
        change_data(template, client, html="<p>ok</p>\n<p>{{refund.amount}} {{coupon}}</p>"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["html"]
    assert errors == ['Unknown variable "coupon" at line 2: Refund processed do not provide it.']
    assert TemplateVersion.objects.count() == 1
    template.refresh_from_db()
    assert "coupon" not in template.html


def test_pasted_script_is_refused(client, make_template):
    login(client, IT_ADMINS)
    template = make_template()

    response = client.post(
        change_url(template), change_data(template, client, html="<p>x</p><script>steal()</script>")
    )

    assert response.context["adminform"].form.errors["html"] == [
        "<script> is not allowed in email HTML."
    ]
    assert TemplateVersion.objects.count() == 1


def test_handler_behind_a_comment_lookalike_is_refused(client, make_template):
    login(client, IT_ADMINS)
    template = make_template()
    html = '<p title="<!--">x</p><img src=x onerror=alert(1)><p title="-->">y</p>'

    response = client.post(change_url(template), change_data(template, client, html=html))

    assert response.context["adminform"].form.errors["html"] == [
        "the onerror attribute on <img> is not allowed in email HTML."
    ]
    assert TemplateVersion.objects.count() == 1
    template.refresh_from_db()
    assert "onerror" not in template.html


def test_translation_errors_are_shown_on_the_translation(client, make_template):
    login(client, IT_ADMINS)
    template = make_template()

    response = client.post(
        change_url(template),
        change_data(
            template,
            client,
            **{
                "translations-TOTAL_FORMS": "1",
                "translations-0-locale": "fr",
                "translations-0-subject": "Remboursement {{bogus}}",
                "translations-0-html": "<p>Bonjour</p>",
                "translations-0-text": "",
            },
        ),
    )

    assert response.status_code == 200
    [formset] = [
        f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "translations"
    ]
    assert "bogus" in str(formset.formset.forms[0].errors["subject"])


def test_preview_renders_in_a_sandboxed_iframe_and_escapes_the_html(client, make_template):
    login(client, IT_ADMINS)
    template = make_template()
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    response = client.get(url, {"version": 1, "event_type": "refund.processed", "locale": "en"})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<span id="preview-subject">Refund 89.80 EUR for RMA-1001</span>' in page
    assert '<iframe id="preview-html" sandbox=""' in page
    assert "<h1" not in page.split('srcdoc="')[1].split('"')[0]  # escaped inside the attribute
    srcdoc = html.unescape(page.split('srcdoc="')[1].split('"')[0])
    assert "Hi Ada</h1>" in srcdoc


def test_send_test_from_the_preview_reaches_the_sandbox_once_even_if_reloaded(
    client, make_template, make_account, esp_sandbox
):
    login(client, IT_ADMINS)
    template = make_template()
    account = make_account("sendgrid")
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    response = client.post(
        url,
        {
            "version": 1,
            "event_type": "refund.processed",
            "locale": "en",
            "account": account.pk,
            "to": "qa@shop.example",
        },
    )

    # Back to the same preview with a GET: a browser's reload asks for that page, sends nothing.
    assert response.status_code == 302
    assert response["Location"] == f"{url}?version=1&event_type=refund.processed&locale=en"
    page = client.get(response["Location"])
    assert any("Test email to qa@shop.example accepted" in str(m) for m in page.context["messages"])
    client.get(response["Location"])
    [record] = esp_sandbox.records("sendgrid")
    assert record["body"]["subject"] == "Refund 89.80 EUR for RMA-1001"
    assert record["body"]["personalizations"][0]["to"] == [{"email": "qa@shop.example"}]


def _second_version(template, subject: str = "Version two for {{return_id}}"):
    from templates_lib.services.templates import template_version_create

    template.subject = subject
    template.save()
    return template_version_create(template=template)


def test_the_preview_link_of_a_version_shows_that_version_and_offers_to_publish_it(
    client, make_template
):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    _second_version(template)
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    v2 = client.get(url, {"version": 2})
    v1 = client.get(url, {"version": 1})

    assert v2.status_code == 200
    page = v2.content.decode()
    assert '<span id="preview-subject">Version two for RMA-1001</span>' in page
    assert "<h2>Version 2 · en</h2>" in page
    assert '<input type="submit" value="Publish version 2">' in page
    page = v1.content.decode()
    assert '<span id="preview-subject">Refund 89.80 EUR for RMA-1001</span>' in page
    assert "<h2>Version 1 (active) · en</h2>" in page
    assert "Publish version" not in page


def test_a_preview_of_a_version_that_does_not_exist_says_so_and_shows_the_active_one(
    client, make_template
):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    response = client.get(url, {"version": 7})

    assert [str(m) for m in response.context["messages"]] == ["There is no version 7."]
    assert "<h2>Version 1 (active) · en</h2>" in response.content.decode()


def test_each_version_row_has_preview_and_publish_for_those_who_may_publish(client, make_template):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    _second_version(template)
    preview = reverse("admin:templates_lib_template_preview", args=[template.pk])
    publish = reverse("admin:templates_lib_template_publish", args=[template.pk])

    page = client.get(change_url(template)).content.decode()

    assert f'<a href="{preview}?version=2">Preview</a>' in page
    assert f'<a href="{preview}?version=1">Preview</a>' in page
    # Only the version that is not active can be published; the button posts the page's form
    # (with its CSRF token) to the publish view.
    assert page.count(f'formaction="{publish}"') == 1
    assert 'name="version" value="2"' in page
    assert 'name="csrfmiddlewaretoken"' in page

    viewer = get_user_model().objects.create_user("viewer", "v@shop.example", "pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_template", "view_templateversion"])
    )
    client.force_login(viewer)
    page = client.get(change_url(template)).content.decode()
    assert f'<a href="{preview}?version=2">Preview</a>' in page
    assert "formaction=" not in page


def test_publishing_a_version_from_its_row_makes_it_active(
    client, make_template, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS)
    make_account("sendgrid")
    template = make_template(publish=True)
    _second_version(template)
    publish = reverse("admin:templates_lib_template_publish", args=[template.pk])
    # What the row's button posts: the whole change form, with the button's version.
    form = change_data(template, client, version="2")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(publish, form, follow=True)

    assert response.redirect_chain == [(change_url(template), 302)]
    assert "Published version 2; pushing it to 1 provider copies." in [
        str(m) for m in response.context["messages"]
    ]
    template.refresh_from_db()
    assert template.active_version.number == 2
    assert (
        esp_sandbox.records("sendgrid")[-1]["body"]["subject"] == "Version two for {{{return_id}}}"
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1", "Version 1 is already the active one."),
        ("9", "Not published: there is no version '9'."),
        ("x", "Not published: there is no version 'x'."),
    ],
)
def test_publishing_the_active_or_a_missing_version_changes_nothing(
    client, make_template, version, message
):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    url = reverse("admin:templates_lib_template_publish", args=[template.pk])

    response = client.post(url, {"version": version}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [message]
    assert list(template.publications.values_list("version__number", flat=True)) == [1]


def test_save_and_publish_without_changes_publishes_the_newest_unpublished_version(
    client, make_template, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    _second_version(template)  # saved earlier, never published
    template.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            change_url(template), change_data(template, client, _saveandpublish="1"), follow=True
        )

    template.refresh_from_db()
    assert template.active_version.number == 2
    assert TemplateVersion.objects.filter(template=template).count() == 2  # no new version
    assert "Published version 2 (nothing had changed since it was saved)." in [
        str(m) for m in response.context["messages"]
    ]


def test_save_and_publish_when_the_newest_version_is_active_says_so(client, make_template):
    login(client, IT_ADMINS)
    template = make_template(publish=True)

    response = client.post(
        change_url(template), change_data(template, client, _saveandpublish="1"), follow=True
    )

    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert warnings == ["Nothing published: version 1, the newest, is already the active one."]
    assert list(template.publications.values_list("version__number", flat=True)) == [1]


def test_publish_view_is_post_only_and_rolls_back(
    client, make_template, django_capture_on_commit_callbacks
):
    login(client, IT_ADMINS)
    template = make_template(publish=True)
    template.subject = "v2 {{return_id}}"
    template.save()
    from templates_lib.services.templates import template_version_create

    template_version_create(template=template)
    url = reverse("admin:templates_lib_template_publish", args=[template.pk])

    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"version": 2})
        client.post(url, {"version": 1})

    template.refresh_from_db()
    assert template.active_version.number == 1
    assert list(template.publications.values_list("version__number", flat=True)) == [1, 2, 1]


def test_check_sync_action_reports_drift(client, make_template, make_account, esp_sandbox):
    login(client, IT_ADMINS)
    make_account("sendgrid")
    template = make_template(publish=True)
    sync = template.syncs.get()
    import requests

    from tests.conftest import TEST_KEYS

    requests.patch(
        f"{esp_sandbox.base_url('sendgrid')}/v3/templates/{sync.remote_id}/versions/{sync.remote_version_id}",
        headers={"Authorization": f"Bearer {TEST_KEYS['sendgrid']}"},
        json={"name": "x", "subject": "Edited at SendGrid", "html_content": "<p>x</p>"},
        timeout=10,
    ).raise_for_status()

    response = client.post(
        reverse("admin:templates_lib_template_changelist"),
        {"action": "check_sync", "_selected_action": [template.pk]},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Refund processed: 0/1 current; drift")
    sync.refresh_from_db()
    assert sync.status == SyncStatus.DRIFTED
    assert (
        "0/1 current"
        in client.get(reverse("admin:templates_lib_template_changelist")).content.decode()
    )


def test_managers_cannot_see_or_edit_templates(client, make_template):
    login(client, MANAGERS)
    template = make_template()

    assert client.get(change_url(template)).status_code == 403
    assert (
        client.get(reverse("admin:templates_lib_template_preview", args=[template.pk])).status_code
        == 403
    )


def test_the_preview_offers_test_sends_only_through_accounts_that_send_single_emails(
    client, make_template, make_account, esp_sandbox
):
    login(client, IT_ADMINS)
    template = make_template()
    sendgrid = make_account("sendgrid")
    marketing = make_account("mailchimp_marketing")
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    page = client.get(url)
    offered = list(page.context["send_form"].fields["account"].queryset)
    response = client.post(
        url,
        {"version": 1, "event_type": "refund.processed", "locale": "en"}
        | {"account": marketing.pk, "to": "qa@shop.example"},
    )

    assert offered == [sendgrid]
    assert response.status_code == 200
    assert "account" in response.context["send_form"].errors
    assert esp_sandbox.records("mailchimp") == []
