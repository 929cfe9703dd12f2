"""The access-control matrix: every URL pattern x every role → the outcome its policy
in `config/access_policy.py` declares. The URL list comes from the URL configuration, so a new
URL without a policy fails here, naming it.

One set of rows (accounts of each kind, a campaign, a segment, events, messages, ...) is made
once per module; each test runs in its own savepoint on top of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from config import access_policy
from config.access_policy import ADMIN_LOGIN, DASHBOARD_LOGIN, REDIRECT, ROLES
from returns_mail.services.unsubscribe_links import link_token

# --- the URL patterns ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # the name with its namespaces, or "route:<route>" when unnamed
    route: str  # the full route, as `path()`/`re_path()` wrote it
    callback: object

    def __str__(self) -> str:
        return self.key


def _walk(resolver, prefix="", namespaces=()):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            spaces = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry, prefix + str(entry.pattern), spaces)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            key = ":".join((*namespaces, entry.name)) if entry.name else f"route:{route}"
            yield Pattern(key, route, entry.callback)


PATTERNS = list(_walk(get_resolver()))


def test_the_walk_finds_every_kind_of_url():
    keys = {p.key for p in PATTERNS}
    assert {
        "healthz",
        "admin:returns_mail_campaign_progress",
        "admin:providers_provideraccount_send_test",
        "admin:returns_mail_message_history",
        "api:event-detail",
        "analytics:overview",
        "webhooks:mailchimp",
        "api-docs",
    } <= keys
    # Every registered model has its five admin pages.
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for page in ("changelist", "add", "change", "delete", "history"):
            assert f"{base}_{page}" in keys


@pytest.mark.parametrize("pattern", PATTERNS, ids=str)
def test_every_url_has_a_policy(pattern):
    assert access_policy.policy_name(pattern.key) is not None, (
        f"URL {pattern.route!r} ({pattern.key}) has no access policy: "
        "add it to URL_POLICIES in config/access_policy.py"
    )


def test_no_role_may_write_a_model_that_names_code_to_run(world, db):
    """Writing a task-queue schedule or task (a `func` / `hook` dotted path, or a queued task's
    payload) runs any function on the workers: superusers only, whatever the role."""
    from django.test import RequestFactory

    from returns_mail.roles import runs_code

    code_models = [model for model in apps.get_models() if runs_code(model)]
    labels = {model._meta.label_lower for model in code_models}
    assert {"django_q.schedule", "django_q.task", "django_q.ormq"} <= labels
    for role in ("user", "manager", "staff_manager", "it_admin"):
        request = RequestFactory().get("/admin/")
        request.user = world["users"][role]
        for model in code_models:
            meta = model._meta
            for action in ("add", "change"):
                assert not request.user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}")
            if model_admin := admin.site._registry.get(model):
                assert not model_admin.has_add_permission(request), (role, meta.label)
                assert not model_admin.has_change_permission(request), (role, meta.label)


# --- the rows the URLs point at -----------------------------------------------------------


def _make_world() -> dict:
    from django_q.models import OrmQ, Schedule, Task

    from analytics.models import (
        Alert,
        AlertRule,
        DeliveryEvent,
        HealthCheck,
        Reply,
        WebhookDelivery,
    )
    from providers.models import ProviderAccount, SecretChange
    from providers.sandbox.sendgrid_events import new_signing_key, public_key_text
    from returns_mail.models import (
        AccountCircuit,
        Campaign,
        CampaignChunk,
        CampaignRecipient,
        EventTypeSetting,
        Message,
        ReturnEvent,
        Segment,
        Suppression,
        TriggerRule,
    )
    from returns_mail.services.api_clients import api_client_create
    from templates_lib.models import Layout, Template, TemplateVersion
    from tests.analytics import factories

    now = timezone.now()
    w: dict = {}
    w["users"] = {
        "user": factories.user("nobody"),
        "manager": factories.manager("manager"),
        "staff_manager": factories.manager("staffmanager", is_staff=True),
        "it_admin": factories.it_admin("itadmin"),
    }
    w["tokens"], clients = {}, {}
    for role, scopes in (
        ("api_events", ["events:write"]),
        ("api_messages", ["messages:read"]),
        ("api_all", ["events:write", "messages:read"]),
        ("api_other", ["events:write", "messages:read"]),
    ):
        clients[role], w["tokens"][role] = api_client_create(name=role, scopes=scopes)

    sendgrid = factories.account(
        "sendgrid", "SendGrid", webhook_verification_key=public_key_text(new_signing_key())
    )
    mandrill = factories.account(
        "mailchimp_transactional", "Mandrill", webhook_secret="mandrill-webhook-key"
    )
    mailchimp = factories.account(
        "mailchimp_marketing",
        "Mailchimp",
        webhook_secret="url-secret-0123456789-0123456789-01",
        audience_id="aud1",
    )
    factories.account("smtp", "SMTP relay", smtp_host="127.0.0.1")
    w["accounts"] = {"sendgrid": sendgrid, "mandrill": mandrill, "mailchimp": mailchimp}
    # The same kinds with no webhook key configured: they must refuse every post too.
    w["keyless"] = {
        "sendgrid": factories.account("sendgrid", "SendGrid keyless"),
        "mandrill": factories.account("mailchimp_transactional", "Mandrill keyless"),
        "mailchimp": factories.account(
            "mailchimp_marketing", "Mailchimp keyless", audience_id="aud2"
        ),
    }

    layout = Layout.objects.create(name="matrix", html="{{body}}", brand_name="Shop")
    template = Template.objects.create(
        name="Refund",
        slug="refund-matrix",
        layout=layout,
        subject="Hi",
        html="<p>Hi</p>",
        event_types=["refund.processed"],
    )
    version = TemplateVersion.objects.create(
        template=template,
        number=1,
        contents={"en": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
        default_locale="en",
        layout=layout,
        content_hash="0" * 64,
    )
    Template.objects.filter(pk=template.pk).update(active_version=version)
    rule = TriggerRule.objects.create(
        name="Refund email", event_type="refund.processed", template=template
    )

    events = {}
    for role in ("api_events", "api_messages", "api_all", "api_other"):
        events[role] = ReturnEvent.objects.create(
            client=clients[role],
            idempotency_key=f"key-{role}",
            request_digest="0" * 64,
            type="refund.processed",
            occurred_at=now,
            # api_other has a return of its own, never api_all's.
            return_id="RMA-OTHER" if role == "api_other" else "RMA-1001",
            customer_email="ada@example.com",
        )
    w["events"] = events
    message = None
    for event in events.values():
        message = Message.objects.create(
            event=event,
            rule=rule,
            recipient="ada@example.com",
            template_version=version,
            send_after=now,
            account=sendgrid,
            status="sent",
        )

    segment = Segment.objects.create(name="Everyone", conditions=[])
    campaign = Campaign.objects.create(
        name="Spring offer",
        segment=segment,
        template=template,
        account=sendgrid,
        unsubscribe_group_id=42,
    )
    alert_rule = AlertRule.objects.create(name="Bounces", kind="bounce_rate", threshold=5)
    delivery = WebhookDelivery.objects.create(account=sendgrid, body="[]")
    q_task_id = "0" * 32
    rows = {
        ProviderAccount: sendgrid,
        SecretChange: SecretChange.objects.create(
            account=sendgrid, field="api_key", changed_by=w["users"]["it_admin"]
        ),
        Layout: layout,
        Template: template,
        TriggerRule: rule,
        ReturnEvent: events["api_all"],
        Message: message,
        Segment: segment,
        Campaign: campaign,
        CampaignChunk: CampaignChunk.objects.create(campaign=campaign, number=1, size=1),
        CampaignRecipient: CampaignRecipient.objects.create(
            campaign=campaign, chunk_number=1, email="ada@example.com"
        ),
        EventTypeSetting: EventTypeSetting.objects.get_or_create(event_type="refund.processed")[0],
        AccountCircuit: AccountCircuit.objects.create(account=sendgrid, last_error="boom"),
        Suppression: Suppression.objects.create(email="x@example.com", reason="manual"),
        AlertRule: alert_rule,
        Alert: Alert.objects.create(rule=alert_rule, account=sendgrid, last_seen_at=now),
        HealthCheck: factories.check(now, True, account=sendgrid),
        WebhookDelivery: delivery,
        DeliveryEvent: DeliveryEvent.objects.create(
            fingerprint="f" * 64,
            delivery=delivery,
            account=sendgrid,
            message=message,
            type="delivered",
            provider_event="delivered",
            occurred_at=now,
        ),
        Reply: Reply.objects.create(
            account=sendgrid,
            key="<reply@example.com>",
            message=message,
            event=message.event,
            to_address="reply+x@reply.example.com",
            from_address="ada@example.com",
            text="Thanks",
            received_at=now,
        ),
        Schedule: Schedule.objects.create(func="math.floor", args="1"),
        OrmQ: OrmQ.objects.create(key="default", payload="x", lock=now - timedelta(minutes=1)),
        Group: Group.objects.get(name="Managers"),
    }
    for success in (True, False):  # django_q's Success and Failure are proxies of Task
        rows[apps.get_model("django_q", "Success" if success else "Failure")] = Task.objects.create(
            id=q_task_id[:-1] + str(int(success)),
            name=f"task-{success}",
            func="math.floor",
            started=now,
            stopped=now,
            success=success,
        )
    rows[apps.get_model("auth", "User")] = w["users"]["manager"]
    rows.update(_more_rows(w, clients))
    w["rows"] = {f"{m._meta.app_label}_{m._meta.model_name}": row for m, row in rows.items()}
    for model in admin.site._registry:  # a model added later: any row of it will do
        key = f"{model._meta.app_label}_{model._meta.model_name}"
        if key not in w["rows"] and (row := model._default_manager.first()) is not None:
            w["rows"][key] = row
    return w


def _more_rows(w, clients) -> dict:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.admin.models import ADDITION, LogEntry

    from returns_mail.models import ApiClient, AudienceErasure, Customer

    def axes_fields(**extra):
        return {
            "username": "mallory",
            "ip_address": "203.0.113.9",
            "user_agent": "curl",
            "http_accept": "*/*",
            "path_info": "/admin/login/",
            **extra,
        }

    LogEntry.objects.create(
        user=w["users"]["it_admin"],
        content_type=ContentType.objects.get_for_model(Group),
        object_id="1",
        object_repr="Managers",
        action_flag=ADDITION,
    )
    return {
        ApiClient: clients["api_all"],
        Customer: Customer.objects.create(email="ada@example.com", name="Ada"),
        AudienceErasure: AudienceErasure.objects.create(
            account=w["accounts"]["mailchimp"], audience_id="aud1"
        ),
        AccessAttempt: AccessAttempt.objects.create(
            **axes_fields(get_data="", post_data="", failures_since_start=1)
        ),
        AccessLog: AccessLog.objects.create(**axes_fields()),
        AccessFailureLog: AccessFailureLog.objects.create(**axes_fields(locked_out=False)),
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The rows, made once; rolled back after the module."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            w = _make_world()
            w["clients"] = {role: _client_for(w, role) for role in ROLES}
            yield w
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- one client per role ---------------------------------------------------------------------


def _client_for(world, role: str) -> Client:
    if role in world["tokens"]:
        return Client(HTTP_AUTHORIZATION=f"Bearer {world['tokens'][role]}")
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


# --- URL arguments -----------------------------------------------------------------------------

_ADMIN_MODEL = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")
_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def url_for(pattern: Pattern, world, role: str) -> str:
    """A path that resolves to `pattern`, its parameters pointing at real rows."""
    model = _ADMIN_MODEL.match(pattern.route)
    row = world["rows"].get(f"{model['app']}_{model['model']}") if model else None

    def value(name: str) -> str:
        if name in ("object_id", "campaign_id", "id"):
            assert row is not None, (
                f"{pattern.key}: the matrix has no row of {model['app']}.{model['model']}: "
                "add one in _make_world()"
            )
            return str(row.pk)
        if name == "content_type_id":
            return str(ContentType.objects.get_for_model(world["rows"]["returns_mail_campaign"]).pk)
        if name == "account_id":
            kind = pattern.key.split(":")[-1]
            return str(world["accounts"][kind].pk)
        if name == "secret":
            return "not-the-secret"
        if name == "token":  # a genuine unsubscribe link's token
            return link_token(email="matrix.customer@example.com", ref="matrix")
        own = world["events"].get(role if role in ("api_events", "api_messages") else "api_all")
        if name == "event_id":
            return str(own.pk)
        if name == "return_id":
            return own.return_id
        raise AssertionError(f"{pattern.key}: no value for URL parameter {name!r}")

    route = pattern.route
    special = {
        "api:not-found": "/api/v1/no-such-endpoint",
        "route:admin/(?P<url>.*)$": "/admin/no-such-page/",
        "admin:app_list": "/admin/returns_mail/",
    }
    if pattern.key in special:
        path = special[pattern.key]
    else:
        if route.startswith("admin/r/"):
            route = route.replace(
                "<path:object_id>", str(world["rows"]["returns_mail_campaign"].pk)
            )
        path = "/" + _CONVERTER.sub(lambda m: value(m["name"]), route)
    match = resolve(path)
    assert match.func is pattern.callback, f"{path} resolves to {match.route}, not {pattern.route}"
    if pattern.key == "admin:autocomplete":
        path += "?app_label=returns_mail&model_name=campaign&field_name=segment&term=E"
    return path


# --- the matrix ------------------------------------------------------------------------------------

# Where the product does not yet do what the policy says: (URL name, role) -> the defect.
# Each is expected to fail; once fixed, the strict xfail fails and the entry is removed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def _case(pattern, role):
    reason = KNOWN_DEFECTS.get((pattern.key, role))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(pattern, role, marks=marks, id=f"{pattern.key}|{role}")


CASES = [_case(p, role) for p in PATTERNS for role in ROLES]


def _check(response, want, path: str) -> str | None:
    """None when the response is the outcome `want`, else what went wrong."""
    got = response.status_code
    location = response.get("Location", "")
    if got >= 500:
        return f"{got} server error"
    if want == ADMIN_LOGIN:
        ok = got == 302 and location.startswith("/admin/login/")
    elif want == DASHBOARD_LOGIN:
        ok = got == 302 and location.startswith("/analytics/login/")
    elif want == REDIRECT:
        ok = got == 302 and "/login/" not in location
    else:
        ok = got == want
    if ok:
        return None
    return f"got {got}{' -> ' + location if location else ''}, want {want}"


@pytest.mark.parametrize(("pattern", "role"), CASES)
def test_get(pattern, role, world, db):
    want = access_policy.expected(pattern.key, role)
    assert want is not None, f"{pattern.route!r} ({pattern.key}) has no access policy"
    path = url_for(pattern, world, role)

    response = world["clients"][role].get(path)

    problem = _check(response, want, path)
    assert problem is None, f"GET {path} as {role}: {problem}"


# --- unsafe methods: refused, and nothing changes -----------------------------------------------


def _snapshot() -> dict:
    """Every row of every model the admin shows (plus API clients' tokens), to compare."""
    models = {*admin.site._registry, apps.get_model("returns_mail", "ApiClient")}
    return {
        m._meta.label: sorted(map(repr, m._default_manager.order_by("pk").values_list()))
        for m in models
        if not m._meta.proxy
    }


# Fields a forged admin POST might carry: a name, a button, a version, an address, a confirmation.
FORGED = {
    "name": "changed",
    "post": "yes",
    "version": "1",
    "to": "attacker@example.com",
    "is_superuser": "on",
    "_campaign_start": "Start",
    "_campaign_test": "Test",
}
ADMIN_POLICIES = {name for name in access_policy.POLICIES if name.startswith("admin")}
ADMIN_POSTS = [
    pytest.param(p, role, id=f"{p.key}|{role}")
    for p in PATTERNS
    if access_policy.policy_name(p.key) in ADMIN_POLICIES - {"admin-login", "admin-logout"}
    for role in ("anonymous", "manager", "staff_manager", "api_all")
]


@pytest.mark.parametrize(("pattern", "role"), ADMIN_POSTS)
def test_admin_post_is_refused_and_changes_nothing(pattern, role, world, db):
    path = url_for(pattern, world, role)
    before = _snapshot()

    response = world["clients"][role].post(path, FORGED)

    if role == "staff_manager":
        # Pages every staff user has (index, own password, <id>/ redirects) may answer; the
        # rows must still be untouched.
        if access_policy.expected(pattern.key, role) in (403, 404, 405):
            assert response.status_code in (403, 404, 405), f"POST {path}: {response.status_code}"
    else:
        assert _check(response, ADMIN_LOGIN, path) is None, f"POST {path} as {role}"
    assert _snapshot() == before, f"POST {path} as {role} changed rows"


API_WRITES = ("api:events", "api:events-batch")


@pytest.mark.parametrize("name", API_WRITES)
@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("manager", 401), ("it_admin", 401), ("api_messages", 403)],
)
def test_api_post_without_the_scope_is_refused_and_changes_nothing(name, role, status, world, db):
    from returns_mail.models import Message, ReturnEvent

    pattern = next(p for p in PATTERNS if p.key == name)
    body = {
        "type": "refund.processed",
        "return_id": "RMA-9",
        "email": "eve@example.com",
        "refund": {"amount": "1.00", "currency": "EUR", "method": "Visa"},
    }
    events, messages = ReturnEvent.objects.count(), Message.objects.count()

    response = world["clients"][role].post(
        url_for(pattern, world, role),
        [body] if name == "api:events-batch" else body,
        content_type="application/json",
    )

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"]  # the API's own error format
    assert (ReturnEvent.objects.count(), Message.objects.count()) == (events, messages)


@pytest.mark.parametrize("role", ["api_events", "api_all"])
def test_api_post_with_the_scope_gets_past_the_checks(role, world, db):
    """The other side of the refusals above: the scope is enough (an empty body is then 400)."""
    from returns_mail.models import ReturnEvent

    events = ReturnEvent.objects.count()

    response = world["clients"][role].post("/api/v1/events", {}, content_type="application/json")

    assert response.status_code == 400, response.content
    assert ReturnEvent.objects.count() == events


@pytest.mark.parametrize("keyed", [True, False], ids=["key-set", "no-key"])
@pytest.mark.parametrize("kind", ["sendgrid", "mandrill", "mailchimp"])
@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"garbage\x00", b'[{"event":"delivered"}]'],
    ids=["empty", "list", "junk", "event"],
)
def test_an_unsigned_webhook_post_is_refused_and_stores_nothing(kind, keyed, body, world, db):
    from analytics.models import DeliveryEvent, WebhookDelivery

    account = (world["accounts"] if keyed else world["keyless"])[kind]
    path = f"/webhooks/{kind}/{account.pk}/"
    if kind == "mailchimp":
        path += "not-the-secret/"
    before = (WebhookDelivery.objects.count(), DeliveryEvent.objects.count())

    response = Client().post(path, body, content_type="application/json")

    assert response.status_code == 403, (path, response.status_code, response.content)
    assert (WebhookDelivery.objects.count(), DeliveryEvent.objects.count()) == before


@pytest.mark.parametrize("kind", ["sendgrid", "mandrill", "mailchimp"])
def test_a_webhook_for_another_kind_of_account_is_404(kind, world, db):
    """An account id of another kind (here the SMTP relay's) is no webhook URL at all."""
    from providers.models import ProviderAccount

    smtp = ProviderAccount.objects.get(kind="smtp")
    path = f"/webhooks/{kind}/{smtp.pk}/" + ("x/" if kind == "mailchimp" else "")

    assert Client().post(path, b"[]", content_type="application/json").status_code == 404


def test_the_second_client_never_sees_the_first_clients_event(world, db):
    """api_other asks for api_all's event and return: 404, with no trace of its content."""
    event = world["events"]["api_all"]
    other = world["clients"]["api_other"]

    detail = other.get(f"/api/v1/events/{event.pk}")
    messages = other.get(f"/api/v1/returns/{event.return_id}/messages")
    own = world["clients"]["api_all"].get(f"/api/v1/events/{event.pk}")

    assert (detail.status_code, messages.status_code, own.status_code) == (404, 404, 200)
    for response in (detail, messages):
        assert "ada@example.com" not in response.content.decode()
        assert event.return_id not in response.content.decode()
