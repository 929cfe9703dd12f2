"""Django settings for Returns Mail. Every value comes from the environment (see config/env.py
and .env.example); defaults are the embedded development setup: SQLite, the ORM broker."""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.csp import BASE_DIRECTIVES as BASE_CSP_DIRECTIVES
from config.env import (
    BASE_DIR,
    data_dir,
    dev_secret,
    env,
    env_nameservers,
    env_ports,
    require_production_settings,
    with_query_defaults,
)
from config.logging_json import logging_config

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = data_dir()

SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
# Several keys, newest first, allow rotation: old values stay readable until re-encrypted.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

require_production_settings(
    DEBUG,
    SECRET_KEY=SECRET_KEY,
    FIELD_ENCRYPTION_KEY=FIELD_ENCRYPTION_KEY,
    ALLOWED_HOSTS=ALLOWED_HOSTS,
)
if DEBUG:
    SECRET_KEY = SECRET_KEY or dev_secret("SECRET_KEY")
    FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or [dev_secret("FIELD_ENCRYPTION_KEY")]
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Ours, in dependency order: a lower app never imports a higher one. Their `tasks` modules hold
# the only functions the task cluster may run (config/task_guard.py).
PROJECT_APPS = ["providers", "templates_lib", "returns_mail", "analytics"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "ckeditor",
    "axes",
    "csp",
    *PROJECT_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (config/csp.py lists the views' exceptions).
    "config.csp.ViewExceptionsCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login attempt into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the site root
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "analytics.context_processors.open_alerts",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the workers share one file: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock up front (no deadlock on lock upgrade), and the timeout
    # makes a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20.0),
    }
    # The test database is a file, so reliability tests can share it with a real worker; one
    # per test run, so runs side by side do not meet.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A connection that died with a database restart is replaced, not reused.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue (django-q2) ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_TIMEOUT = env.int("Q_TIMEOUT", default=60)
Q_RETRY = env.int("Q_RETRY", default=Q_TIMEOUT + 30)
if Q_RETRY <= Q_TIMEOUT:
    # Otherwise a slow task is handed to a second worker while the first still runs it.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"Q_RETRY ({Q_RETRY}) must be greater than Q_TIMEOUT ({Q_TIMEOUT})")

Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="returns-mail"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    # Successes are not stored: the rows we own record outcomes, and pruning is slow.
    "save_limit": -1,
    "ack_failures": True,
    "catch_up": False,
    "queue_limit": env.int("Q_QUEUE_LIMIT", default=50),
    "label": "Task queue",
}
if REDIS_URL:
    # Bounded socket waits: a blackholed Redis makes /readyz answer 503 instead of hanging.
    Q_CLUSTER["redis"] = with_query_defaults(
        REDIS_URL, socket_timeout="5", socket_connect_timeout="5"
    )
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.5)

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes, see config/auth.py): the lockout check comes first.
AUTHENTICATION_BACKENDS = [
    "config.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After this many failed logins for one user name from one client IP, that pair is locked out
# (HTTP 429) for AXES_COOLOFF_MINUTES; each failure while locked restarts the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# After this many failed logins from one client IP, whatever the user names, the address is
# locked out for every user name (axes has one limit: config/auth.py adds this one).
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)
if AXES_IP_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"AXES_IP_FAILURE_LIMIT ({AXES_IP_FAILURE_LIMIT}) must be at least AXES_FAILURE_LIMIT "
        f"({AXES_FAILURE_LIMIT}): the address's limit counts every user name's failures"
    )
AXES_HANDLER = "config.auth.LoginLockoutHandler"
AXES_RESET_ON_SUCCESS = True
# Reverse proxies (load balancer, TLS terminator) in front of the app that append to
# X-Forwarded-For: the lockout's client IP is the address the outermost one saw
# (config/client_ip.py). 0: REMOTE_ADDR, right when clients connect directly.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing one
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}

# --- Production security (check --deploy) -------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): the strict base policy and the few views' exceptions
# live in config/csp.py.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": BASE_CSP_DIRECTIVES}

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "text" (default) or "json" (one JSON object per line). Either way, strings shaped like
# provider keys, credentials and API tokens are redacted from every record.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT, q_level=env.str("Q_LOG_LEVEL", default="WARNING"))

# --- Retention -------------------------------------------------------------------------------
# Days a webhook delivery's raw body is kept (its outcome and events are kept for good). No
# rendered message body is ever stored: a message points at its template version and event.
RETENTION_WEBHOOK_DAYS = env.int("RETENTION_WEBHOOK_DAYS", default=30)
# Rows purged per statement (by id range): memory and lock time stay flat whatever the backlog.
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=5000)
# Days return events, their messages (with attempts) and provider delivery events are kept: a
# year of returns plus a season. The dashboards read the rollups, which keep their counts.
RETENTION_MESSAGE_DAYS = env.int("RETENTION_MESSAGE_DAYS", default=400)
# Days a customer with no return event is kept before being erased (as an erasure does, but
# keeping the suppressions: they protect the person).
RETENTION_CUSTOMER_DAYS = env.int("RETENTION_CUSTOMER_DAYS", default=3 * 365)
# Days an address's consent history (the proof) is kept once it has no customer record.
RETENTION_CONSENT_DAYS = env.int("RETENTION_CONSENT_DAYS", default=3 * 365)
# 0 keeps that kind of data for good; a negative number is a mistake, not a wish.
for _name in (
    "RETENTION_WEBHOOK_DAYS",
    "RETENTION_MESSAGE_DAYS",
    "RETENTION_CUSTOMER_DAYS",
    "RETENTION_CONSENT_DAYS",
):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (keep for good) or a number of days")
if RETENTION_BATCH_SIZE < 1:
    raise ImproperlyConfigured("RETENTION_BATCH_SIZE must be at least 1")

# --- Metrics ---------------------------------------------------------------------------------
# Bearer token Prometheus sends to GET /metrics; empty: only signed-in IT admins can read it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Demo ------------------------------------------------------------------------------------
PORT = env.int("PORT", default=8000)

# --- Providers -------------------------------------------------------------------------------
# Seconds any single provider call may take (SDK calls, SMTP).
PROVIDER_TIMEOUT = env.float("PROVIDER_TIMEOUT", default=10.0)
# How long after a provider call went unanswered (a timeout, a dropped connection, a worker lost
# mid-call) its message or campaign chunk is looked up in the provider's message activity, which
# lags behind the sends by up to a few minutes; sooner would resend mail the provider has.
RECONCILE_AFTER = env.int("RECONCILE_AFTER", default=300)
# Days after a provider-sent campaign (Mailchimp Marketing) went out during which its report
# is pulled (opens and clicks keep coming for a while; older reports are left as last pulled).
CAMPAIGN_REPORTS_DAYS = env.int("CAMPAIGN_REPORTS_DAYS", default=30)
# Days after a promotional email during which the customer's exchange, store credit or new
# order counts as its conversion (last touch: the latest promotional email before the event).
CONVERSION_WINDOW_DAYS = env.int("CONVERSION_WINDOW_DAYS", default=30)
# The loopback ESP sandbox `make demo` starts; its SMTP server listens on the next port.
ESP_SANDBOX_PORT = env.int("ESP_SANDBOX_PORT", default=8025)
# Where provider API calls may go (providers/hosts.py): the providers' own https hosts, plus
# these host names (https, comma-separated; "*.example.com" allows one label in front), plus
# 127.0.0.1 / localhost / ::1 over http or https when loopback is allowed (the ESP sandbox).
PROVIDER_EXTRA_HOSTS = env.list("PROVIDER_EXTRA_HOSTS", default=[])
PROVIDER_ALLOW_LOOPBACK = env.bool("PROVIDER_ALLOW_LOOPBACK", default=DEBUG)
# Ports an SMTP account may use besides the submission ports 25, 465, 587 and 2525 (checked when
# the account is saved and again at every connection; comma-separated). Default: the sandbox's
# SMTP port (ESP_SANDBOX_PORT + 1) while loopback hosts are allowed, so the demo relay works;
# none otherwise. Setting it, even empty, replaces that default.
SMTP_EXTRA_PORTS = env_ports(
    "SMTP_EXTRA_PORTS", default=[ESP_SANDBOX_PORT + 1] if PROVIDER_ALLOW_LOOPBACK else []
)
# Sender authentication checks (SPF, DKIM, DMARC of each account's sender domain): the DNS
# servers asked, comma-separated IP[:port] (empty: the system's resolver; the tests and the demo
# name a loopback server), and the seconds one lookup may take in all before it counts as
# "could not check".
SENDER_AUTH_NAMESERVERS = env_nameservers("SENDER_AUTH_NAMESERVERS")
SENDER_AUTH_DNS_TIMEOUT = env.float("SENDER_AUTH_DNS_TIMEOUT", default=3.0)
if SENDER_AUTH_DNS_TIMEOUT <= 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SENDER_AUTH_DNS_TIMEOUT must be more than 0 (seconds)")
# CA bundle to trust for SMTP relays besides the system's (a private relay, the sandbox).
SMTP_CA_FILE = env.str("SMTP_CA_FILE", default="")
# The public base of this site (e.g. https://mail.example.com): the links in emails (alert
# emails link to the admin) are absolute from it (config/public_url.py). Unset with DEBUG off:
# a system check warns. WEBHOOK_BASE_URL, its former name, is read when this one is unset.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="") or env.str("WEBHOOK_BASE_URL", default="")
# One-click unsubscribe (RFC 8058): how long the signed link in a promotional email works (days),
# and the mailto address its List-Unsubscribe header offers besides the https link (empty: no
# mailto, e.g. when nothing reads that mailbox). Default: unsubscribe@ the public base's host.
UNSUBSCRIBE_LINK_MAX_AGE_DAYS = env.int("UNSUBSCRIBE_LINK_MAX_AGE_DAYS", default=90)
if UNSUBSCRIBE_LINK_MAX_AGE_DAYS < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("UNSUBSCRIBE_LINK_MAX_AGE_DAYS must be at least 1 (days)")
_public_host = urlsplit(PUBLIC_BASE_URL).hostname or ""
UNSUBSCRIBE_MAILTO = env.str(
    "UNSUBSCRIBE_MAILTO",
    # A domain, not an IP address or a single-label name like localhost.
    default=f"unsubscribe@{_public_host}"
    if "." in _public_host and not _public_host.replace(".", "").isdigit()
    else "",
)
# The base as the providers reach it, for the webhook URLs shown in the admin and the URL
# Mandrill signs: PUBLIC_BASE_URL unless the providers come in by another address; empty: the
# request's own.
WEBHOOK_BASE_URL = env.str("WEBHOOK_BASE_URL", default="") or PUBLIC_BASE_URL
# Intake availability: the worker probes <INTAKE_PROBE_URL>/readyz over HTTP every minute, as
# a fallback to the external `manage.py probe` (default: the public base; empty: the worker
# checks the database and broker in-process instead, which cannot see the web tier). Seconds
# before a probe gives up (a timeout counts as down).
INTAKE_PROBE_URL = env.str("INTAKE_PROBE_URL", default="") or PUBLIC_BASE_URL
INTAKE_PROBE_TIMEOUT = env.float("INTAKE_PROBE_TIMEOUT", default=10.0)
# Seconds a signed webhook's timestamp (SendGrid's) may be from our clock, either way: older
# bodies are replays, newer ones are forged or a clock is wrong.
WEBHOOK_TIMESTAMP_TOLERANCE = env.int("WEBHOOK_TIMESTAMP_TOLERANCE", default=600)
if WEBHOOK_TIMESTAMP_TOLERANCE < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("WEBHOOK_TIMESTAMP_TOLERANCE must be at least 1 (seconds)")
# Customers' replies: the domain of the per-message reply-to address (reply+<token>@domain,
# the token signed: returns_mail/services/reply_tokens.py). Its MX must point at the provider's
# inbound parsing. Empty: replies are not tracked and mail carries the account's reply-to.
REPLY_DOMAIN = env.str("REPLY_DOMAIN", default="").strip().lower().lstrip("@")
# Where a person's reply is forwarded (a helpdesk address), through the alerts' notify account
# or Django mail; empty: kept and shown, not forwarded.
REPLY_FORWARD_TO = env.str("REPLY_FORWARD_TO", default="").strip()

# An open this many seconds (or fewer) after delivery (after sending, where the provider reports
# no delivery) is a machine's: Apple Mail Privacy Protection and security scanners fetch the
# images as the mail arrives, while a person needs longer to see the mail and open it. 0 turns
# the rule off (the providers' own flags and the known proxy user agents still count).
MACHINE_OPEN_SECONDS = env.int("MACHINE_OPEN_SECONDS", default=5)
if MACHINE_OPEN_SECONDS < 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("MACHINE_OPEN_SECONDS must be 0 or more (seconds)")

# --- Template library ----------------------------------------------------------------------------
# The template HTML editor in the admin: "ckeditor" (CKEditor 4, as the design names; see the
# README for its risk) or "textarea" (plain HTML source). One setting swaps it.
TEMPLATE_EDITOR = env.str("TEMPLATE_EDITOR", default="ckeditor")
CKEDITOR_CONFIGS = {
    "email": {
        "toolbar": "Custom",
        "toolbar_Custom": [
            ["Format", "Bold", "Italic", "Underline", "RemoveFormat"],
            ["NumberedList", "BulletedList", "Outdent", "Indent"],
            ["JustifyLeft", "JustifyCenter", "JustifyRight"],
            ["Link", "Unlink", "Image", "Table", "HorizontalRule"],
            ["TextColor", "BGColor"],
            ["Source", "Maximize"],
        ],
        "height": 360,
        "width": "100%",
        # Protects every {{...}} Handlebars tag (a RegExp, so it lives in a JS file): CKEditor
        # otherwise moves text between table rows out of the table, breaking {{#each}} blocks.
        "customConfig": "/static/templates_lib/ckeditor-handlebars.js",
        "entities": False,
        "basicEntities": True,
        "fillEmptyBlocks": False,
        "removePlugins": "exportpdf",
    },
}
# CKEditor 4 is past its end of life (ckeditor.W001): contained as described in the README.
SILENCED_SYSTEM_CHECKS = ["ckeditor.W001"]

# --- REST API (returns_mail.api) ------------------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK.update(
    {
        # One error format for the whole API: {"error": {"code", "message", "fields"}}.
        "EXCEPTION_HANDLER": "returns_mail.api.exceptions.api_exception_handler",
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
)
# The OpenAPI schema and Swagger UI describe every endpoint and field: by default only signed-in
# IT admins and API clients (bearer token) may read them; True opens them to everyone.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "Returns Mail API",
    "DESCRIPTION": "The returns system posts return events; Returns Mail sends the emails its "
    "trigger rules ask for and reports what happened to each. Authenticate with "
    "`Authorization: Bearer <token>`. Every error is answered as "
    '`{"error": {"code", "message", "fields"}}`, `fields` naming each bad field by its dotted '
    "path.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "returns_mail.models.outbox.MessageStatus",
    },
}
# The API's rate-limit counters. With Redis, every web process shares them (the same Redis as
# the task broker, under its own key prefix); without, each process counts its own.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "returns-mail:cache",
            # Bounded waits: a blackholed Redis must not hang API requests (the throttle then
            # lets requests through and logs it).
            "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "returns-mail",
        }
    }
