"""Every saved change is an immutable version; publishing picks the active one."""

from __future__ import annotations

import pytest

from templates_lib.models import ImmutableVersionError, TemplatePublication, TemplateSync
from templates_lib.services.templates import (
    TemplateInvalid,
    template_publish,
    template_version_create,
)

pytestmark = pytest.mark.django_db


def test_versions_are_immutable(make_template):
    version = make_template().versions.get()
    version.contents["en"]["subject"] = "changed"

    with pytest.raises(ImmutableVersionError):
        version.save()

    version.refresh_from_db()
    assert version.contents["en"]["subject"].startswith("Refund")


def test_each_change_makes_a_new_version_and_no_change_makes_none(make_template):
    template = make_template()

    assert template_version_create(template=template) is None
    template.subject = "New subject {{return_id}}"
    template.save()
    second = template_version_create(template=template)

    assert second.number == 2
    assert [v.number for v in template.versions.all()] == [2, 1]
    assert template.versions.get(number=1).contents["en"]["subject"].startswith("Refund")


def test_invalid_content_never_becomes_a_version(make_template):
    template = make_template()
    template.html = "<p>{{unknown.thing}}</p>"
    template.save()

    with pytest.raises(TemplateInvalid, match=r"unknown\.thing"):
        template_version_create(template=template)

    assert template.versions.count() == 1


def test_publish_and_roll_back(
    make_template, django_user_model, django_capture_on_commit_callbacks
):
    template = make_template(publish=True)
    first = template.active_version
    template.subject = "Second {{return_id}}"
    template.save()
    second = template_version_create(template=template)
    admin = django_user_model.objects.create(username="it")

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(version=second, actor=admin)
        template_publish(version=first, actor=admin)  # rollback

    template.refresh_from_db()
    assert template.active_version == first
    assert list(
        TemplatePublication.objects.filter(template=template).values_list(
            "version__number", "published_by"
        )
    ) == [(1, admin.pk), (2, admin.pk), (1, None)]


def test_publish_without_template_accounts_creates_no_syncs(make_template):
    make_template(publish=True)

    assert not TemplateSync.objects.exists()
