"""Writes on templates: snapshotting versions, publishing, following layout changes."""

from __future__ import annotations

import hashlib
import json
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Max

from config.audit import audit_record
from config.queue import enqueue_on_commit
from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail
from templates_lib.catalogue import sample_context
from templates_lib.exceptions import TemplateLibError
from templates_lib.models import (
    Layout,
    SyncStatus,
    Template,
    TemplatePublication,
    TemplateSync,
    TemplateVersion,
)
from templates_lib.rendering import render_version
from templates_lib.selectors import accounts_storing
from templates_lib.validation import template_errors, unsubscribe_errors


class TemplateInvalid(TemplateLibError):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def _contents(template: Template) -> dict[str, dict[str, str]]:
    contents = {
        template.default_locale: {
            "subject": template.subject,
            "html": template.html,
            "text": template.text,
        }
    }
    for translation in template.translations.all():
        contents.setdefault(
            translation.locale,
            {"subject": translation.subject, "html": translation.html, "text": translation.text},
        )
    return contents


def _hash(contents: dict, layout_id: int, default_locale: str) -> str:
    payload = json.dumps([contents, layout_id, default_locale], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def template_version_create(*, template: Template, actor=None) -> TemplateVersion | None:
    """Snapshot the template's saved draft (every locale) as a new immutable version.

    Returns None when nothing changed since the latest version. Refuses invalid content."""
    contents = _contents(template)
    for locale, content in contents.items():
        errors = template_errors(
            event_keys=template.event_types, purpose=template.purpose, **content
        )
        if missing := unsubscribe_errors(
            purpose=template.purpose, html=content["html"], layout_html=template.layout.html
        ):
            errors.setdefault("html", []).extend(missing)
        if errors:
            raise TemplateInvalid({f"{field} ({locale})": e for field, e in errors.items()})
    digest = _hash(contents, template.layout_id, template.default_locale)
    latest = template.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == digest:
        return None
    for _ in range(3):  # another save may take the same number: the constraint says who won
        number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                return TemplateVersion.objects.create(
                    template=template,
                    number=number,
                    contents=contents,
                    default_locale=template.default_locale,
                    layout_id=template.layout_id,
                    content_hash=digest,
                    created_by=actor,
                )
        except IntegrityError:
            continue
    raise TemplateLibError(f"could not number a new version of {template}")


def template_publish(*, version: TemplateVersion, actor=None) -> list[TemplateSync]:
    """Make `version` the active one (a rollback publishes an older one) and push it, in the
    background, to every account that stores templates. Refuses (TemplateInvalid) a promotional
    version without an unsubscribe link."""
    template = version.template
    missing = {
        f"html ({locale})": errors
        for locale, content in version.contents.items()
        if (
            errors := unsubscribe_errors(
                purpose=template.purpose, html=content["html"], layout_html=version.layout.html
            )
        )
    }
    if missing:  # a version saved before promotional mail needed the link
        raise TemplateInvalid(missing)
    with transaction.atomic():
        Template.objects.filter(pk=template.pk).update(active_version=version)
        template.active_version = version
        TemplatePublication.objects.create(template=template, version=version, published_by=actor)
        syncs = syncs_schedule(template=template, version=version)
        audit_record(
            actor=actor,
            obj=template,
            action="change",
            message=f"published version {version.number}",
        )
    return syncs


class NothingToPublish(TemplateLibError):
    """The version asked for cannot be published; the message says why."""


def template_publish_newest(*, template: Template, actor=None) -> tuple[TemplateVersion, list]:
    """Publish the template's newest version ("Save and publish", whether this save made a new
    version or an earlier save left one unpublished). Returns it and its syncs; raises
    NothingToPublish when there is no version or the newest is already the active one."""
    newest = template.versions.order_by("-number").first()
    if newest is None:
        raise NothingToPublish("the template has no version yet")
    active_id = Template.objects.filter(pk=template.pk).values_list("active_version", flat=True)
    if newest.pk == active_id.first():
        raise NothingToPublish(f"version {newest.number}, the newest, is already the active one")
    return newest, template_publish(version=newest, actor=actor)


def syncs_schedule(*, template: Template, version: TemplateVersion) -> list[TemplateSync]:
    """Mark the copy at every account (per locale) as to be pushed, and queue the pushes.

    A push in flight keeps running; it sees the version changed and queues another."""
    syncs = []
    for account in accounts_storing(template):
        for locale in version.locales:
            sync, _ = TemplateSync.objects.get_or_create(
                template=template, account=account, locale=locale, defaults={"version": version}
            )
            TemplateSync.objects.filter(pk=sync.pk).exclude(status=SyncStatus.PUSHING).update(
                status=SyncStatus.PENDING,
                version=version,
                attempts=0,
                next_attempt_at=None,
                error="",
            )
            TemplateSync.objects.filter(pk=sync.pk, status=SyncStatus.PUSHING).update(
                version=version
            )
            enqueue_on_commit("templates_lib.tasks.push_template_sync", sync.pk)
            syncs.append(sync)
    return syncs


def layout_changed(*, layout: Layout) -> int:
    """A layout edit changes every template that uses it: push their active versions again."""
    count = 0
    with transaction.atomic():
        for template in Template.objects.filter(active_version__layout=layout).select_related(
            "active_version"
        ):
            syncs_schedule(template=template, version=template.active_version)
            count += 1
    return count


def template_send_test(
    *, version: TemplateVersion, account, to: str, event_type: str, locale: str | None = None
):
    """Render `version` with the sample event and send it to `to` through `account`."""
    rendered = render_version(version, sample_context(event_type), locale)
    email = OutgoingEmail(
        to=Address(to),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        correlation_id=f"template-test-{uuid.uuid4()}",
        categories=("returns-mail-test",),
    )
    return client_for(account).send(email)
