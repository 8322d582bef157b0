"""Crier settings, read from the environment.

Every setting an operator may change comes from an environment variable (see the
configuration table in README.md). A `.env` file in the project folder is read
for variables not already set (``make run`` writes one with fresh keys); it is
ignored under pytest so tests stay hermetic (``CRIER_ENV_FILE`` names another file, or
disables it when empty).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

from config.environment import (
    database_from_url,
    env,
    env_bool,
    env_fraction,
    env_int,
    env_list,
    env_rate,
    load_dotenv,
    metrics_directory,
)

BASE_DIR = Path(__file__).resolve().parent.parent
UNDER_PYTEST = "pytest" in sys.modules


# CRIER_ENV_FILE names another file; empty disables it (tests' subprocesses do that).
_env_file = os.environ.get("CRIER_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and not UNDER_PYTEST:
    load_dotenv(Path(_env_file))


# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)

_DEV_SECRET = "django-insecure-crier-development-only-never-in-production"
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or UNDER_PYTEST:
        SECRET_KEY = _DEV_SECRET
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or UNDER_PYTEST else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_TZ = True
# Languages (README, "Languages"): English is the default; the browser's Accept-Language
# (LocaleMiddleware), the API's Accept-Language and the user's own preference
# (config.preferences) choose one of these. The catalogues are committed under locale/.
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates, times and numbers people read: config/formats/<lang>/formats.py (zh-Hans: 2026年12月7日 周一 09:00).
FORMAT_MODULE_PATH = ["config.formats"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "csp",
    "config.apps.LoginLockoutsConfig",  # django-axes, admin login lockout ("Guessing costs" below)
    "config.apps.ProjectConfig",  # the project's own system checks (config/checks.py)
    # Crier's apps, bottom layer first (pyproject.toml [tool.importlinter] checks the layers).
    "audit",
    "providers",
    "templates_registry",
    "campaigns",
    "approvals",
    "notifications",  # on top: derives notifications from the audit trail (docs/architecture.md)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise serves /static/ straight after the security headers (README, "Deploying").
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: Accept-Language, or the session's choice (set_language, the login signal).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's saved language wins over Accept-Language (config/preferences.py).
    "config.preferences.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "sqlite:///db.sqlite3")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Static files -----------------------------------------------------------
# WhiteNoise serves them from the web process itself, so DEBUG=0 shows the admin styled
# with no web server in front (README, "Deploying"): a maintained library that sets far-
# future cache headers on hashed names and serves the gzip copies it made. In
# production the files are collected once (`collectstatic`, at image build and in
# `scripts/entrypoint.sh web`) into STATIC_ROOT under hashed, compressed names. The manifest
# storage refuses to render a page whose static file is missing from its manifest, so it
# is used only when DEBUG is off outside the tests; DEBUG=1, the tests and the browser
# tests' live server use the plain storage and find files in the apps directly.
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
_HASHED_STATIC = not DEBUG and not UNDER_PYTEST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _HASHED_STATIC
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collected files (development, tests) WhiteNoise looks in the apps' static folders.
WHITENOISE_USE_FINDERS = not _HASHED_STATIC
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production values when DEBUG is off) -------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not UNDER_PYTEST)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not UNDER_PYTEST)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not UNDER_PYTEST)
# Health probes (config/health.py) speak plain HTTP to the pod or container: no redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/dispatcher$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG or UNDER_PYTEST else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp). Scripts only from our own origin: no inline script
# and no inline event handler anywhere in our templates (a button's confirmation question
# is asked by campaigns/static/campaigns/confirm.js), so an injected <script> does not
# run. Styles allow 'unsafe-inline': Django's own admin templates carry <style> blocks and
# style attributes, which nonces cannot cover (a nonce does not apply to attributes), and
# CSS cannot run code. data: images are the admin's and Swagger UI's inline icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Sessions are staff sessions (only staff log in; the API uses tokens), and an admin session
# can approve and stop broadcasts, so it lasts a working day instead of Django's two weeks.
# The age is absolute (no sliding renewal): a session left open on a shared machine ends
# the same day. It also ends when the browser closes, where the browser honours that.
SESSION_COOKIE_AGE = env_int("CRIER_SESSION_AGE_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("CRIER_SESSION_EXPIRE_AT_BROWSER_CLOSE", True)

# --- Guessing costs: login lockout, client addresses, shared counters -----------
# The client's address is the TCP peer unless Crier runs behind this many proxies that each
# append to X-Forwarded-For; then it is the Nth address from the right of that header
# (config/clients.py). 0: the header is ignored, so a forged one changes nothing.
CRIER_TRUSTED_PROXY_COUNT = env_int("CRIER_TRUSTED_PROXY_COUNT", 0)
# Admin logins (django-axes, a maintained library for exactly this): after this many failed
# logins for one username, or from one address, that username or address is refused, even
# with the right password, for CRIER_LOGIN_COOLOFF_MINUTES after the last failure (0: until
# an operator unlocks it). Operators unlock with `manage.py axes_reset_username <name>` /
# `axes_reset_ip <address>` or by deleting the access attempt in the admin. Either parameter
# alone locks: per username stops many addresses guessing one password, per address stops
# one address trying many usernames. The price is that anyone can lock a username for the
# cool-off by failing on purpose; operators see that in the admin (Axes -> Access attempts)
# and can lift it.
CRIER_LOGIN_FAILURE_LIMIT = env_int("CRIER_LOGIN_FAILURE_LIMIT", 5)
CRIER_LOGIN_COOLOFF_MINUTES = env_int("CRIER_LOGIN_COOLOFF_MINUTES", 15)
for _name, _value, _least in (
    ("CRIER_TRUSTED_PROXY_COUNT", CRIER_TRUSTED_PROXY_COUNT, 0),
    ("CRIER_LOGIN_FAILURE_LIMIT", CRIER_LOGIN_FAILURE_LIMIT, 1),
    ("CRIER_LOGIN_COOLOFF_MINUTES", CRIER_LOGIN_COOLOFF_MINUTES, 0),
):
    if _value < _least:
        raise ImproperlyConfigured(f"{_name}={_value} must be {_least} or more")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = CRIER_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=CRIER_LOGIN_COOLOFF_MINUTES) if CRIER_LOGIN_COOLOFF_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_CLIENT_IP_CALLABLE = "config.clients.client_address"
AXES_LOCKOUT_CALLABLE = "config.lockout.locked_out"  # the page in plain words, HTTP 429
# The API throttles' counters (config/throttling.py) live in the default cache. With
# CRIER_CACHE_URL (a Redis database: give it one of its own, not the queue's, since
# clearing a cache empties its whole database) every process shares them and counts
# atomically; without it each process keeps its own in memory, so N web processes allow
# N times each rate: set it whenever more than one web process serves Crier.
CRIER_CACHE_URL = env("CRIER_CACHE_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CRIER_CACHE_URL,
            "KEY_PREFIX": "crier",
        }
        if CRIER_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Credentials at rest ----------------------------------------------------
# Fernet keys (comma separated, newest first) that encrypt provider credentials.
# Kept apart from SECRET_KEY so either can rotate without the other.
FIELD_ENCRYPTION_KEYS = env_list("CRIER_FIELD_KEYS")
# Audit chain keys ("<key id>:<secret>", comma separated, newest first; audit/keys.py).
# Derived from SECRET_KEY when unset; `check --deploy` requires them (audit.E001).
CRIER_AUDIT_KEY = env_list("CRIER_AUDIT_KEY")
# An append-only file that receives a copy of every signed audit checkpoint (optional).
CRIER_AUDIT_CHECKPOINT_FILE = env("CRIER_AUDIT_CHECKPOINT_FILE")

# --- Provider endpoints (docs/providers.md §7) -----------------
# Accounts marked sandbox (emulators, provider sandboxes) may point at any http(s) host;
# they are refused unless this is on. Default: on with DEBUG (and under pytest), else off.
CRIER_ALLOW_SANDBOX_ACCOUNTS = env_bool("CRIER_ALLOW_SANDBOX_ACCOUNTS", DEBUG or UNDER_PYTEST)
# Hosts a production account may use beyond its provider's declared official ones, as
# comma-separated kind=https://host entries (Alipay+ has one host per wallet deployment).
CRIER_PROVIDER_HOSTS = env_list("CRIER_PROVIDER_HOSTS")

# --- Logging ----------------------------------------------------------------
# CRIER_LOG_FORMAT=json writes one JSON object a line (python-json-logger, a maintained
# formatter: it escapes what a hand-made one would get wrong, and keeps every `extra=`
# field, e.g. campaign_id and dispatch_id, as a key of its own). "plain" is for people.
# Nothing logged carries a secret: credentials are never passed to a logger.
LOG_FORMAT = env("CRIER_LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"CRIER_LOG_FORMAT={LOG_FORMAT!r} is not 'plain' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            "json_ensure_ascii": False,
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print its records a second time,
        # in plain text: they go to the root handler above like everything else.
        "django": {"handlers": [], "level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # django-q2 logs as "django-q" (django_q/conf.py), not under its package's name.
        "django-q": {"level": env("Q_LOG_LEVEL", "WARNING")},
        # django-axes announces its configuration at INFO in every process (every command);
        # lockouts are logged at WARNING and still show.
        "axes": {"level": "WARNING"},
    },
}

# --- Health probes (config/health.py) ----------------------------------------
# /healthz/dispatcher answers 503 when the dispatcher ticker's last round is older than
# this many seconds. A ticker renews its lease every CRIER_DISPATCH_TICK_SECONDS and hands
# over to its successor every CRIER_TICKER_SECONDS (a gap of a few seconds); django-q2's
# schedule restarts a lost chain within about a minute, so the default waits for that.
CRIER_TICKER_MAX_AGE_SECONDS = env_int("CRIER_TICKER_MAX_AGE_SECONDS", 90)

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token authentication whose failures are counted per address (config/throttling.py).
        "config.throttling.GuardedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON with a lone surrogate, a NUL or nesting deeper than 64 levels is a 400, in a JSON
    # body and in a form's values alike (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.SafeJSONParser",
        "config.parsers.SafeFormParser",
        "config.parsers.SafeMultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    # Requests per user (by account) and per anonymous client (by address, config/clients.py)
    # answer 429 beyond these rates ("<n>/second|minute|hour|day"; empty disables), and so
    # do requests with a token from an address past its failed authentications
    # ("failed_auth"). Counted in the default cache (CACHES above).
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("CRIER_API_THROTTLE_ANON", "60/minute"),
        "user": env_rate("CRIER_API_THROTTLE_USER", "3000/minute"),
        "failed_auth": env_rate("CRIER_API_THROTTLE_FAILED_AUTH", "20/minute"),
    },
    # DRF's own reading of X-Forwarded-For agrees with config/clients.py.
    "NUM_PROXIES": CRIER_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Crier API",
    "DESCRIPTION": "Template-based broadcast campaigns with four-eyes approval.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from the sidecar package: deployments may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several choice sets are all called "kind"; give each enum its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "ScheduleKindEnum": "campaigns.models.ScheduleKind",
        "AudienceKindEnum": "campaigns.models.AudienceKind",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "DispatchStatusEnum": "campaigns.models.DispatchStatus",
        "DeliveryStatusEnum": "campaigns.models.DeliveryStatus",
        "MpaasPeriodEnum": "providers.mpaas_options.MPAAS_PERIOD_CHOICES",  # BindPeriod, UnBindPeriod
        "TemplateStatusEnum": "templates_registry.models.TemplateStatus",
        "ReviewStatusEnum": "approvals.models.ReviewStatus",
        "ProviderKindEnum": "providers.api.PROVIDER_KIND_CHOICES",
    },
}

# --- Queue (django-q2) ------------------------------------------------------
# Chosen on purpose (see docs/queue-and-http.md): the database is the ledger and the
# queue only wakes work up. Finite attempts, no catch-up replay, and a lease
# (retry) longer than the task timeout so a running task is never handed to a
# second worker. campaigns.checks refuses settings that could double-send.
REDIS_URL = env("REDIS_URL")
# Under pytest-xdist each worker gets its own queue name, so parallel test processes
# sharing one Redis never run each other's tasks.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "") if UNDER_PYTEST else ""
Q_CLUSTER: dict = {
    "name": env("Q_CLUSTER_NAME", f"crier-{_XDIST_WORKER}" if _XDIST_WORKER else "crier"),
    # One worker runs the dispatcher ticker loop; the others send.
    "workers": env_int("Q_WORKERS", 4),
    "timeout": env_int("Q_TIMEOUT", 120),
    "retry": env_int("Q_RETRY", 300),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "ack_failures": False,
    "save_limit": env_int("Q_SAVE_LIMIT", -1),
    "queue_limit": env_int("Q_QUEUE_LIMIT", 4),
    "catch_up": False,
    "poll": 0.2,
    "label": gettext_lazy("Task queue"),  # the admin's name for django-q2's app
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Notifications (README "Notifications") ---------------------------------
# Django's mail API: SMTP, or with DEBUG (make run) each e-mail printed readably in the terminal.
_MAILER = "notifications.console_mail" if DEBUG else "django.core.mail.backends.smtp"
EMAIL_BACKEND = env("EMAIL_BACKEND", f"{_MAILER}.EmailBackend")
EMAIL_HOST, EMAIL_PORT = env("EMAIL_HOST", "localhost"), env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = env("EMAIL_HOST_USER"), env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS, EMAIL_USE_SSL = env_bool("EMAIL_USE_TLS"), env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Crier <crier@localhost>")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
CRIER_BASE_URL = env("CRIER_BASE_URL", "http://127.0.0.1:8000")  # where links in notifications point
CRIER_NOTIFY_MAX_ATTEMPTS = env_int("CRIER_NOTIFY_MAX_ATTEMPTS", 8)  # then backoff, lease, timeout (s)
CRIER_NOTIFY_RETRY_BASE_SECONDS = float(env("CRIER_NOTIFY_RETRY_BASE_SECONDS", "30"))
CRIER_NOTIFY_RETRY_MAX_SECONDS = float(env("CRIER_NOTIFY_RETRY_MAX_SECONDS", "3600"))
CRIER_NOTIFY_LEASE_SECONDS = float(env("CRIER_NOTIFY_LEASE_SECONDS", "60"))
CRIER_NOTIFY_HTTP_TIMEOUT = float(env("CRIER_NOTIFY_HTTP_TIMEOUT", "5"))
CRIER_CHAT_SLACK_HOSTS = env_list("CRIER_CHAT_SLACK_HOSTS")  # Slack-compatible hosts besides hooks.slack.com

# --- Crier ------------------------------------------------------------------
# At most this many scheduled or recurring campaigns pending per provider account.
CRIER_MAX_PENDING_SCHEDULED = env_int("CRIER_MAX_PENDING_SCHEDULED", 100)
# A recurrence may end at most this many days from today (mPaaS: 180).
CRIER_MAX_RECURRENCE_DAYS = env_int("CRIER_MAX_RECURRENCE_DAYS", 180)
# At most this many characters in a rendered message, title and body together, per
# language: checked when a template is written (its text without variables) and when it is
# rendered (with the parameters), so a render never builds a huge string. None of the four
# providers documents a length in docs/providers.md (mPaaS only names "body too long"
# errors), so the bound is ours: 4,000 is ten times a long push notification, about what a
# mobile push payload holds (4 KB), and keeps a render and its audit snapshot a few KB.
CRIER_MAX_RENDERED_CHARS = env_int("CRIER_MAX_RENDERED_CHARS", 4000)
# Distinct approvals needed, as defaults of the approval rules (approvals.ApprovalRule, in
# the admin): every campaign needs at least CRIER_APPROVALS_REQUIRED; the seeded rule
# "Broadcast to everyone" takes CRIER_APPROVALS_REQUIRED_BROADCAST when its data migration
# runs (approvals 0007), and administrators change that rule in the admin afterwards.
CRIER_APPROVALS_REQUIRED = env_int("CRIER_APPROVALS_REQUIRED", 1)
CRIER_APPROVALS_REQUIRED_BROADCAST = env_int("CRIER_APPROVALS_REQUIRED_BROADCAST", 2)
# How much an approved reach may grow before an occurrence is held for a reviewer to
# confirm: it is sent unheld up to floor(approved reach x (1 + CRIER_REACH_TOLERANCE)).
CRIER_REACH_TOLERANCE = env_fraction("CRIER_REACH_TOLERANCE", 0.10)
# Volume before approval (campaigns/volume.py): a schedule with more than MAX_PER_HOUR
# occurrences within 60 minutes, or more than MAX_MESSAGES_PER_DAY messages to its audience
# on one day, needs the reviewer to acknowledge it; counting stops after COUNT_LIMIT.
CRIER_VOLUME_MAX_PER_HOUR = env_int("CRIER_VOLUME_MAX_PER_HOUR", 1)
CRIER_VOLUME_MAX_MESSAGES_PER_DAY = env_int("CRIER_VOLUME_MAX_MESSAGES_PER_DAY", 100_000)
CRIER_VOLUME_COUNT_LIMIT = env_int("CRIER_VOLUME_COUNT_LIMIT", 10_000)
# Require a successful preview before a campaign can be approved.
CRIER_REQUIRE_PREVIEW = env_bool("CRIER_REQUIRE_PREVIEW", False)
# How often (seconds) the dispatcher tick looks for due occurrences.
CRIER_DISPATCH_TICK_SECONDS = float(env("CRIER_DISPATCH_TICK_SECONDS", "1"))
# A dispatch whose heartbeat is older than this is considered abandoned.
CRIER_STALE_DISPATCH_SECONDS = env_int("CRIER_STALE_DISPATCH_SECONDS", 60)
# Seconds one dispatch task may work before handing the rest to a new task (< Q timeout).
CRIER_DISPATCH_TASK_BUDGET = float(env("CRIER_DISPATCH_TASK_BUDGET", "60"))
# Retry backoff: full jitter over base * 2**(attempt-1), capped.
CRIER_RETRY_BASE_SECONDS = float(env("CRIER_RETRY_BASE_SECONDS", "1"))
CRIER_RETRY_MAX_SECONDS = float(env("CRIER_RETRY_MAX_SECONDS", "300"))
# How long one dispatcher ticker task loops before handing over to the next (< Q timeout).
CRIER_TICKER_SECONDS = float(env("CRIER_TICKER_SECONDS", "20"))

# --- Metrics (GET /metrics, docs/metrics.md) ----------------------------------
# The bearer token Prometheus scrapes with; empty turns the endpoint off (it answers 403).
CRIER_METRICS_TOKEN = env("CRIER_METRICS_TOKEN").strip()
if CRIER_METRICS_TOKEN and len(CRIER_METRICS_TOKEN) < 20:
    raise ImproperlyConfigured(
        "CRIER_METRICS_TOKEN must be at least 20 characters (e.g. python -c "
        "'import secrets; print(secrets.token_urlsafe(32))'), or empty to turn /metrics off"
    )
# The directory where every process (gunicorn workers, qcluster workers) writes the values
# it observes, and which the scrape sums: prometheus-client's multi-process mode. It must
# be set before prometheus-client is imported, hence here (docs/metrics.md, "Several
# processes"; the defaults for development and tests: config.environment).
PROMETHEUS_MULTIPROC_DIR = metrics_directory(under_pytest=UNDER_PYTEST, debug=DEBUG)
if PROMETHEUS_MULTIPROC_DIR:
    os.makedirs(PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR  # read by prometheus-client
elif CRIER_METRICS_TOKEN:
    raise ImproperlyConfigured(
        "PROMETHEUS_MULTIPROC_DIR must name a directory every web and worker process shares "
        "when CRIER_METRICS_TOKEN is set: otherwise each process would report only its own values"
    )
