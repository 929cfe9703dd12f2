"""Who may reach which URL: the access-control matrix.

`tests/test_access_matrix.py` walks every URL pattern of `config.urls` (the admin's generated
ones included), finds its policy here by name (or, for an unnamed pattern, by `route:<route>`),
and checks what each role gets on a GET. A URL without a policy fails that test: a new URL needs a
line in `URL_POLICIES`.

The roles:
- `anonymous`: no session, no token;
- `user`: logged in, no role (a login left over after its role was removed);
- `manager`: the Managers role as it is meant to be (not staff: dashboards only);
- `staff_manager`: a Manager wrongly given `is_staff`: the admin opens but shows nothing;
- `it_admin`: the IT admins role (staff, every permission of the apps);
- `api_events`, `api_messages`, `api_all`: API clients with `events:write`, `messages:read`,
  both; each reads its own event and return;
- `api_other`: a second client with both scopes that asks for `api_all`'s event and return: it
  must get 404, never the other client's data.
API clients send only their bearer token, so outside the API they are anonymous.

What the product does (an outcome per role):
- `public`: 200 for everyone: the probes, and the site root (links to the admin, the dashboards
  and the API docs) and its favicon; the unsubscribe and preference pages (with a valid token).
- `api-docs`: Swagger UI: IT admins (session) and API clients (their bearer token, any scope)
  200; without either, redirect to the admin login; logged in without the role 403. Everyone
  gets 200 when `API_DOCS_PUBLIC` is set (off by default).
- `api-schema`: the OpenAPI schema, as `api-docs` except that without a session or token it is
  401 (a machine-readable resource: no login redirect).
- `admin`: IT admins only. Without a staff session: redirect to the admin login. Staff without
  the model permission: 403.
- `admin-denied`: pages nobody may use (adding or deleting records the system writes, deleting
  staff logins, editing roles): 403 for IT admins too.
- `admin-post-only`: admin buttons that change something (test a connection, publish): a GET is
  405 for staff, whatever their permissions; the POST is permission-checked.
- `admin-staff`: pages of the admin every staff user has (the index, which lists only what the
  user may see; changing one's own password; the admin's JavaScript catalogue).
- `dashboard`: the analytics pages: Managers and IT admins 200; logged in without the permission
  403; without a session, redirect to the dashboards' login page (`/analytics/login/`).
- `api:<scope>`: the REST API: a valid bearer token with the scope. No token (a browser session
  does not count): 401; a token without the scope: 403; another client's object: 404. A GET on a
  POST-only endpoint: 405 once the token is valid (no scope is needed to learn the method).
- `metrics`: the Prometheus scrape: its own bearer token (`METRICS_TOKEN`), or an IT admin's
  session; everyone else 403 (never a login redirect: a scraper cannot follow one).
- `webhook`: signature-checked, open to anyone: anything but a POST is 405; a POST that is not
  signed is 403 and stores nothing; never 200, never 500.
- `webhook-url-secret`: Mailchimp Marketing: the secret is in the URL; a wrong secret is 403 for
  the validator's GET too.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

ROLES = (
    "anonymous",
    "user",
    "manager",
    "staff_manager",
    "it_admin",
    "api_events",
    "api_messages",
    "api_all",
    "api_other",
)
API_ROLES = ("api_events", "api_messages", "api_all", "api_other")
NO_SESSION = ("anonymous", *API_ROLES)
NOT_STAFF = (*NO_SESSION, "user", "manager")
STAFF = ("staff_manager", "it_admin")

# Outcomes besides a plain status code.
ADMIN_LOGIN = "302 admin login"  # 302 to /admin/login/?next=<the page>
DASHBOARD_LOGIN = "302 dashboard login"  # 302 to /analytics/login/?next=<the page>
REDIRECT = "302 elsewhere"  # 302 to a page that is not a login page


def _policy(**outcomes) -> dict[str, int | str]:
    """One outcome per role: keyword groups (no_session, not_staff, staff, api) then roles."""
    groups = {"no_session": NO_SESSION, "not_staff": NOT_STAFF, "staff": STAFF, "api": API_ROLES}
    table: dict[str, int | str] = {}
    for key, outcome in outcomes.items():
        for role in groups.get(key, (key,)):
            table[role] = outcome
    missing = set(ROLES) - set(table)
    if missing:
        raise ValueError(f"policy names no outcome for {sorted(missing)}")
    return table


POLICIES: dict[str, dict[str, int | str]] = {
    "public": _policy(not_staff=200, staff=200),
    "not-found": _policy(not_staff=404, staff=404),
    "admin": _policy(not_staff=ADMIN_LOGIN, staff_manager=403, it_admin=200),
    "admin-denied": _policy(not_staff=ADMIN_LOGIN, staff=403),
    "admin-staff": _policy(not_staff=ADMIN_LOGIN, staff=200),
    # An app's index: Django answers 404 to staff who may see nothing in the app.
    "admin-app": _policy(not_staff=ADMIN_LOGIN, staff_manager=404, it_admin=200),
    # `<id>/` is a redirect to `<id>/change/` (which then checks the permission).
    "admin-redirect": _policy(not_staff=ADMIN_LOGIN, staff=REDIRECT),
    # Unknown admin paths: no hint of what exists before login.
    "admin-unknown": _policy(not_staff=ADMIN_LOGIN, staff=404),
    # "View on site": no model of ours has a public page.
    "admin-view-on-site": _policy(not_staff=ADMIN_LOGIN, staff=404),
    # The login form; staff already logged in go to the index.
    "admin-login": _policy(not_staff=200, staff=REDIRECT),
    # Logging out is a POST (a GET would let any page log the user out).
    # Without a staff session the admin sends a logout to its index (which asks for a login).
    "admin-logout": _policy(not_staff=REDIRECT, staff=405),
    "admin-post-only": _policy(not_staff=ADMIN_LOGIN, staff=405),
    "dashboard": _policy(
        no_session=DASHBOARD_LOGIN, user=403, manager=200, staff_manager=200, it_admin=200
    ),
    "dashboard-login": _policy(no_session=200, user=REDIRECT, manager=REDIRECT, staff=REDIRECT),
    "dashboard-logout": _policy(not_staff=405, staff=405),
    "api:messages:read": _policy(
        no_session=401,
        user=401,
        manager=401,
        staff=401,
        api_events=403,
        api_messages=200,
        api_all=200,
        api_other=404,
    ),
    "api-docs": _policy(
        anonymous=ADMIN_LOGIN, user=403, manager=403, staff_manager=403, it_admin=200, api=200
    ),
    "api-schema": _policy(
        anonymous=401, user=403, manager=403, staff_manager=403, it_admin=200, api=200
    ),
    "api:events:write": _policy(no_session=401, user=401, manager=401, staff=401, api=405),
    # Prometheus scrapes with its own token (METRICS_TOKEN, not an API client's); people: IT
    # admins only. Everyone else the same bare 403, logged in or not.
    "metrics": _policy(not_staff=403, staff_manager=403, it_admin=200),
    "webhook": _policy(not_staff=405, staff=405),
    "webhook-url-secret": _policy(not_staff=403, staff=403),
}

# Records the system writes: listed and shown to IT admins, never added or deleted by hand.
READ_ONLY_RECORDS = (
    "providers_secretchange",
    "returns_mail_returnevent",
    "returns_mail_message",
    "returns_mail_campaignchunk",
    "returns_mail_campaignrecipient",
    "returns_mail_accountcircuit",
    "returns_mail_eventtypesetting",
    "returns_mail_auditentry",
    "returns_mail_customer",
    "returns_mail_audienceerasure",
    "analytics_alert",
    "analytics_healthcheck",
    "analytics_webhookdelivery",
    "analytics_deliveryevent",
    "analytics_reply",
    # Login lockouts (django-axes): the log of logins and failures is an audit record.
    "axes_accesslog",
    "axes_accessfailurelog",
)
# Records the system writes that IT admins may delete but not add: failed tasks, and a lockout
# (deleting it unlocks the login).
NO_ADD_RECORDS = ("django_q_failure", "axes_accessattempt")
# Rows that name code for the task cluster to run: only superusers write them (and a schedule
# only with one of the project's task entry points); IT admins read them.
CODE_RECORDS = ("django_q_schedule", "django_q_success", "django_q_ormq")

# First match wins: specific names before patterns.
URL_POLICIES: tuple[tuple[str, str], ...] = (
    # --- the site root, probes and API documentation
    ("landing", "public"),
    ("favicon", "public"),
    ("healthz", "public"),
    ("readyz", "public"),
    # The unsubscribe and preference pages of promotional emails: the signed token in the URL
    # is the authority (a bad one is 400, an expired one 410).
    ("unsubscribe", "public"),
    ("unsubscribe-preferences", "public"),
    ("metrics", "metrics"),
    ("api-schema", "api-schema"),
    ("api-docs", "api-docs"),
    # --- the REST API
    ("api:events", "api:events:write"),
    ("api:events-batch", "api:events:write"),
    ("api:event-detail", "api:messages:read"),
    ("api:return-messages", "api:messages:read"),
    ("api:not-found", "not-found"),
    # --- dashboards
    ("analytics:login", "dashboard-login"),
    ("analytics:logout", "dashboard-logout"),
    ("analytics:*", "dashboard"),
    # --- webhooks
    ("webhooks:sendgrid", "webhook"),
    ("webhooks:mandrill", "webhook"),
    ("webhooks:mailchimp", "webhook-url-secret"),
    # Inbound mail (replies): SendGrid's URL secret and basic auth; Mandrill's signature.
    ("inbound:sendgrid", "webhook-url-secret"),
    ("inbound:mandrill", "webhook"),
    # --- the admin site
    ("admin:login", "admin-login"),
    ("admin:logout", "admin-logout"),
    ("admin:index", "admin-staff"),
    ("admin:password_change", "admin-staff"),
    ("admin:password_change_done", "admin-staff"),
    ("admin:jsi18n", "admin-staff"),
    ("admin:autocomplete", "admin"),
    ("admin:view_on_site", "admin-view-on-site"),
    ("admin:app_list", "admin-app"),
    ("route:admin/(?P<url>.*)$", "admin-unknown"),
    ("route:admin/*/<path:object_id>/", "admin-redirect"),
    # Staff logins: IT admins add and edit them, never delete them; roles are fixed.
    ("admin:auth_user_delete", "admin-denied"),
    ("admin:auth_group_add", "admin-denied"),
    ("admin:auth_group_delete", "admin-denied"),
    # Records the system writes.
    *(
        (f"admin:{model}_add", "admin-denied")
        for model in READ_ONLY_RECORDS + NO_ADD_RECORDS + CODE_RECORDS
    ),
    *((f"admin:{model}_delete", "admin-denied") for model in READ_ONLY_RECORDS + CODE_RECORDS),
    # Buttons that change something: POST only (a GET is 405 before any permission check).
    ("admin:providers_provideraccount_test_connection", "admin-post-only"),
    ("admin:templates_lib_template_publish", "admin-post-only"),
    # Everything else in the admin: the model pages and the custom views.
    ("admin:*", "admin"),
)


def policy_name(key: str) -> str | None:
    """The policy of a URL pattern (`name`, or `route:<route>` when unnamed), or None."""
    for pattern, policy in URL_POLICIES:
        if fnmatchcase(key, pattern):
            return policy
    return None


def expected(key: str, role: str) -> int | str | None:
    name = policy_name(key)
    return None if name is None else POLICIES[name][role]
