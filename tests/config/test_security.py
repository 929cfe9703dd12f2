"""Access and security: login lockout (django-axes) on both login pages, the
Content-Security-Policy on admin, dashboard and API docs pages, and `check --deploy` in
production. Logins go through the real login forms with real POSTs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse

from config.client_ip import client_ip
from tests.analytics import factories as f
from tests.config.test_settings import EXPLAINED_DEPLOY_WARNINGS, PRODUCTION, settings_of
from tests.e2e.browser import open_journey

LOCKED = "Account locked: too many login attempts"
LOGIN_PAGES = {
    "admin": ("/admin/login/", "/admin/"),
    "dashboards": ("/analytics/login/", "/analytics/"),
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every attempt hashes a password (for unknown users too): keep it cheap in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db):
    """An IT admin (admin login) and a manager (dashboards login), same password."""
    return {"admin": f.it_admin("itadmin"), "dashboards": f.manager("manager")}


def post_login(client: Client, page: str, username: str, password: str, ip="203.0.113.7"):
    url, after = LOGIN_PAGES[page]
    return client.post(
        f"{url}?next={after}",
        {"username": username, "password": password, "next": after},
        REMOTE_ADDR=ip,
    )


def fail_five_times(client: Client, page: str, username: str, ip="203.0.113.7") -> list:
    return [post_login(client, page, username, "wrong-password", ip) for _ in range(5)]


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_five_failures_lock_the_user_out_even_with_the_right_password(client, people, page):
    username = people[page].username

    answers = fail_five_times(client, page, username)

    # Four ordinary "wrong password" form errors, then the lockout.
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert LOCKED in answers[-1].content.decode()
    right = post_login(client, page, username, f.PASSWORD)
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_right_password_works_before_the_limit_and_after_the_cool_off(client, people, page):
    username = people[page].username
    for _ in range(4):
        post_login(client, page, username, "wrong-password")
    assert post_login(client, page, username, f.PASSWORD).status_code == 302
    client.logout()

    # A success resets the count: four more failures still do not lock.
    assert [a.status_code for a in fail_five_times(client, page, username)][:4] == [200] * 4
    assert post_login(client, page, username, f.PASSWORD).status_code == 429

    # 15 minutes later (the default cool-off) the user may log in again.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert post_login(client, page, username, f.PASSWORD).status_code == 302


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_lockout_does_not_tell_whether_the_user_exists(people, page):
    existing = fail_five_times(Client(), page, people[page].username)
    unknown = fail_five_times(Client(), page, "no-such-user")

    assert [a.status_code for a in existing] == [a.status_code for a in unknown]
    assert existing[-1].content == unknown[-1].content
    errors = [list(a.context["form"].non_field_errors()) for a in (existing[0], unknown[0])]
    assert errors[0] == errors[1] != []


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_lockout_is_per_user_name_and_client_ip(client, people, page):
    username = people[page].username
    fail_five_times(client, page, username, ip="203.0.113.7")

    # The same user from another address, and another user from the locked address, log in.
    assert post_login(Client(), page, username, f.PASSWORD, ip="198.51.100.9").status_code == 302
    other = f.it_admin("itadmin2") if page == "admin" else f.manager("manager2")
    assert post_login(Client(), page, other.username, f.PASSWORD).status_code == 302


def fail_with_many_names(page: str, count: int, **origin) -> list:
    """One wrong password for each of `count` user names (none twice), from one client: the
    default address, or `origin` through a proxy (see via_proxy)."""
    if origin:
        return [
            post_login_via_proxy(page, f"guess{n}", "wrong-password", **origin)
            for n in range(count)
        ]
    return [post_login(Client(), page, f"guess{n}", "wrong-password") for n in range(count)]


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_many_user_names_from_one_ip_lock_that_ip_out(people, page):
    answers = fail_with_many_names(page, 20)  # AXES_IP_FAILURE_LIMIT's default

    # One failure per name never reaches the per-name limit; the address's 20th does.
    assert [a.status_code for a in answers] == [200] * 19 + [429]
    assert LOCKED in answers[-1].content.decode()
    # The address is locked for every name, a real user's right password included...
    right = post_login(Client(), page, people[page].username, f.PASSWORD)
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    # ...and for nobody else.
    elsewhere = post_login(Client(), page, people[page].username, f.PASSWORD, ip="198.51.100.9")
    assert elsewhere.status_code == 302


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_per_name_limit_still_locks_first_and_both_pages_count_for_the_address(
    people, page, settings
):
    settings.AXES_IP_FAILURE_LIMIT = 12
    username = people[page].username
    other_page = "dashboards" if page == "admin" else "admin"

    per_name = fail_five_times(Client(), page, username)
    others = fail_with_many_names(other_page, 7)  # 5 + 7: the address's twelfth failure

    assert [a.status_code for a in per_name] == [200, 200, 200, 200, 429]
    assert [a.status_code for a in others] == [200] * 6 + [429]
    # The address is over its limit: the other page's user is locked out too.
    right = post_login(Client(), other_page, people[other_page].username, f.PASSWORD)
    assert right.status_code == 429


def via_proxy(client_address: str, *, forged: str = "") -> dict:
    """What the app sees of a request that came through one reverse proxy at 10.0.0.2."""
    chain = f"{forged}, {client_address}" if forged else client_address
    return {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": chain}


def post_login_via_proxy(page: str, username: str, password: str, **origin):
    url, after = LOGIN_PAGES[page]
    return Client().post(
        f"{url}?next={after}",
        {"username": username, "password": password, "next": after},
        **via_proxy(**origin),
    )


def test_behind_a_proxy_the_lockout_holds_per_client_not_for_everyone(people, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    username = people["admin"].username
    answers = [
        post_login_via_proxy("admin", username, "wrong", client_address="203.0.113.7")
        for _ in range(5)
    ]
    assert answers[-1].status_code == 429

    # Another client through the same proxy logs in; the locked one cannot escape by writing
    # its own X-Forwarded-For entry (the proxy appends the address it really saw).
    other = post_login_via_proxy("admin", username, f.PASSWORD, client_address="198.51.100.9")
    forged = post_login_via_proxy(
        "admin", username, f.PASSWORD, client_address="203.0.113.7", forged="198.51.100.9"
    )
    assert (other.status_code, forged.status_code) == (302, 429)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


@pytest.mark.parametrize(
    ("proxies", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.7"}, "203.0.113.7"),
        (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"),
        (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "10.0.0.3"),
        (1, {"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "not-an-ip"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": " 2001:db8::1 "}, "2001:db8::1"),
    ],
)  # fmt: skip
def test_the_client_ip_is_what_the_outermost_trusted_proxy_saw(proxies, meta, expected, settings):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(RequestFactory().get("/", **meta)) == expected


def test_the_attempt_log_keeps_no_password(client, people):
    post_login(client, "admin", "itadmin", "hunter2-secret-password")

    attempt = AccessAttempt.objects.get()
    assert "hunter2-secret-password" not in attempt.post_data
    assert attempt.username == "itadmin"


def test_test_client_login_without_a_request_still_works(client, people):
    """client.login() calls authenticate() without a request: no lockout check, no error."""
    assert client.login(username="itadmin", password=f.PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_the_lockout_settings_come_from_the_environment(child_env):
    values = settings_of(
        child_env(**PRODUCTION, AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60"),
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "PROVIDER_ALLOW_LOOPBACK",
    )
    defaults = settings_of(child_env(**PRODUCTION), "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME")

    assert values == {
        "AXES_FAILURE_LIMIT": 3,
        "AXES_COOLOFF_TIME": "1:00:00",
        "PROVIDER_ALLOW_LOOPBACK": False,  # production default: no loopback provider hosts
    }
    assert defaults == {"AXES_FAILURE_LIMIT": 5, "AXES_COOLOFF_TIME": "0:15:00"}


def test_behind_a_proxy_the_per_ip_limit_holds_per_client(people, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    answers = fail_with_many_names("admin", 20, client_address="203.0.113.7")
    assert answers[-1].status_code == 429

    # Another client through the same proxy (the same REMOTE_ADDR) logs in.
    username = people["admin"].username
    other = post_login_via_proxy("admin", username, f.PASSWORD, client_address="198.51.100.9")
    locked = post_login_via_proxy("admin", username, f.PASSWORD, client_address="203.0.113.7")
    assert (other.status_code, locked.status_code) == (302, 429)


def test_the_per_ip_limit_comes_from_the_environment_and_is_at_least_the_per_name_one(
    child_env,
):
    assert settings_of(child_env(**PRODUCTION), "AXES_IP_FAILURE_LIMIT") == {
        "AXES_IP_FAILURE_LIMIT": 20
    }
    assert settings_of(
        child_env(**PRODUCTION, AXES_IP_FAILURE_LIMIT="50"), "AXES_IP_FAILURE_LIMIT"
    ) == {"AXES_IP_FAILURE_LIMIT": 50}
    with pytest.raises(AssertionError, match="AXES_IP_FAILURE_LIMIT \\(4\\) must be at least"):
        settings_of(child_env(**PRODUCTION, AXES_IP_FAILURE_LIMIT="4"), "AXES_IP_FAILURE_LIMIT")


# --- Content-Security-Policy ------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in header.split(";") if part.strip())
    }


STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "frame-src": ["'self'"],
    "child-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
}


def assert_strict(response) -> None:
    directives = policy(response)
    for name, sources in STRICT.items():
        assert directives[name] == sources, (name, directives)


def test_the_admin_dashboards_and_login_pages_have_the_strict_policy(client, people):
    assert_strict(client.get("/admin/login/"))
    assert_strict(client.get("/analytics/login/"))

    client.force_login(people["admin"])
    admin_page = client.get(reverse("admin:providers_provideraccount_changelist"))
    assert admin_page.status_code == 200
    assert_strict(admin_page)

    client.force_login(people["dashboards"])
    dashboard = client.get("/analytics/")
    assert dashboard.status_code == 200
    assert_strict(dashboard)


def test_the_api_docs_have_the_policy_and_no_inline_script(client, people):
    client.force_login(people["admin"])  # the docs are for IT admins (and API clients)
    docs = client.get("/api/docs/")

    assert docs.status_code == 200
    directives = policy(docs)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]  # Swagger UI's <style>
    assert not re.search(r"<script>", docs.content.decode())
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_only_the_template_editor_allows_what_ckeditor_needs(client, people, make_template):
    template = make_template()
    client.force_login(get_user_model().objects.create_superuser("root", password=f.PASSWORD))

    editor = policy(client.get(reverse("admin:templates_lib_template_change", args=[template.pk])))
    preview = policy(
        client.get(reverse("admin:templates_lib_template_preview", args=[template.pk]))
    )
    listing = client.get(reverse("admin:templates_lib_template_changelist"))

    assert editor["script-src"] == ["'self'", "'unsafe-inline'"]  # no 'unsafe-eval'
    assert "'unsafe-inline'" in editor["style-src"]
    assert preview["script-src"] == ["'self'"]  # the sandboxed iframe runs no script anyway
    assert "'unsafe-inline'" in preview["style-src"]  # email HTML is styled inline
    assert_strict(listing)


# --- check --deploy ---------------------------------------------------------------------------


def test_check_deploy_is_clean_with_lockout_and_policy_installed(manage, child_env):
    proc = manage("check", "--deploy", env=child_env(**PRODUCTION))

    assert proc.returncode == 0, proc.stderr
    assert "ERRORS" not in proc.stderr
    # Only the explained warning(s), and none from axes or csp either.
    warnings = set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", proc.stderr + proc.stdout))
    assert warnings == EXPLAINED_DEPLOY_WARNINGS


# --- In a real browser: the policy blocks nothing the pages need ------------------------------


def test_admin_editor_preview_and_api_docs_work_under_the_policy(
    live_server, transactional_db, make_template
):
    from playwright.sync_api import expect

    template = make_template()
    get_user_model().objects.create_superuser("root", password=f.PASSWORD)
    with open_journey(live_server, "security-policy") as journey:
        page = journey.page
        journey.admin_login("root")

        # The template editor: CKEditor starts (its editing area is an iframe it builds).
        journey.go(reverse("admin:templates_lib_template_change", args=[template.pk]))
        page.wait_for_function(
            "() => !!(window.CKEDITOR && Object.values(CKEDITOR.instances).some("
            "i => i.status === 'ready'))",
            timeout=20_000,
        )
        # The preview: the email HTML shows, styled, in its sandboxed iframe.
        journey.go(reverse("admin:templates_lib_template_preview", args=[template.pk]))
        expect(page.frame_locator("#preview-html").locator("body")).to_contain_text("We refunded")
        # An ordinary admin page and the API docs (Swagger UI draws the operations).
        journey.go(reverse("admin:providers_provideraccount_changelist"))
        journey.go("/api/docs/")
        page.locator(".opblock-summary").first.wait_for(timeout=20_000)

        # What Chromium logs for a refusal, and what the page's own listener reported.
        violations = [
            line
            for line in journey.console
            if "Content Security Policy" in line or "Content-Security" in line
        ]
        assert violations == []
        assert journey.csp_refusals() == []
