"""Crier settings, read from the environment.

Every setting an operator may change comes from an environment variable (see the
configuration table in README.md). A `.env` file in the project folder is read
for variables not already set (``make run`` writes one with fresh keys); it is
ignored under pytest so tests stay hermetic (``CRIER_ENV_FILE`` names another file, or
disables it when empty).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
UNDER_PYTEST = "pytest" in sys.modules


def _load_dotenv(path: Path) -> None:
    """Set variables from a KEY=VALUE file, never overriding the real environment."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


# CRIER_ENV_FILE names another file; empty disables it (tests' subprocesses do that).
_env_file = os.environ.get("CRIER_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and not UNDER_PYTEST:
    _load_dotenv(Path(_env_file))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from exc


def env_fraction(name: str, default: float) -> float:
    """Return a non-negative number such as ``0.10`` (10 %)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number >= 0 or number == float("inf"):  # also refuses nan
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a number of 0 or more (a fraction: 0.10 allows 10% more)"
        )
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """Return a DRF throttle rate such as ``100/minute`` (None when set empty: no limit)."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as '100/minute' or '5/second'")
    return value


def database_from_url(url: str) -> dict:
    """Return a Django DATABASES entry for a ``sqlite:///path`` or ``postgres://`` URL."""
    parsed = urlparse(url)
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db
        name = unquote(parsed.path)[1:]
        if not os.path.isabs(name):
            name = str(BASE_DIR / name)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # IMMEDIATE: a writer takes the lock at BEGIN, so two processes
                # never deadlock upgrading read locks (measured with two clusters).
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory: integration tests run real qcluster processes against it.
            # One per test process, so concurrent test runs never share (and break) it.
            "TEST": {"NAME": f"{name}-test-{os.getpid()}"},
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(options),
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported; use sqlite:/// or postgres://"
    )


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
USE_I18N = True
LANGUAGE_CODE = "en-us"

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
    # Crier's apps, bottom layer first (pyproject.toml [tool.importlinter] checks the layers).
    "audit",
    "providers",
    "templates_registry",
    "campaigns",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
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
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "var" / "static")))

# --- Security (production values when DEBUG is off) -------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not UNDER_PYTEST)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not UNDER_PYTEST)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not UNDER_PYTEST)
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

# --- Provider endpoints (docs/providers.md §7) -----------------
# Accounts marked sandbox (emulators, provider sandboxes) may point at any http(s) host;
# they are refused unless this is on. Default: on with DEBUG (and under pytest), else off.
CRIER_ALLOW_SANDBOX_ACCOUNTS = env_bool("CRIER_ALLOW_SANDBOX_ACCOUNTS", DEBUG or UNDER_PYTEST)
# Hosts a production account may use beyond its provider's declared official ones, as
# comma-separated kind=https://host entries (Alipay+ has one host per wallet deployment).
CRIER_PROVIDER_HOSTS = env_list("CRIER_PROVIDER_HOSTS")

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django_q": {"level": env("Q_LOG_LEVEL", "WARNING")},
    },
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON with a lone surrogate, a NUL or nesting deeper than 64 levels is a 400 (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    # Requests per user (by account) and per anonymous client (by IP) answer 429 beyond
    # these rates ("<n>/second|minute|hour|day"; empty disables). Counted in the default
    # cache, so per process unless CACHES points at a shared cache.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("CRIER_API_THROTTLE_ANON", "60/minute"),
        "user": env_rate("CRIER_API_THROTTLE_USER", "3000/minute"),
    },
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
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

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
