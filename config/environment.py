"""Reading Crier's settings from the environment: the ``.env`` file, typed variables and
``DATABASE_URL``. ``config/settings.py`` uses these; they live apart so the settings file
holds settings only."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def load_dotenv(path: Path) -> None:
    """Set variables from a KEY=VALUE file, never overriding the real environment."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def metrics_directory(*, under_pytest: bool, debug: bool) -> str:
    """Return prometheus-client's multi-process directory: ``PROMETHEUS_MULTIPROC_DIR``;
    in development (DEBUG) var/prometheus by default; under pytest a fresh directory per
    test process, removed at exit. pytest-xdist's workers inherit the controller's
    environment, so a directory another pytest process made (marked in
    ``CRIER_PYTEST_METRICS_DIR``) is not reused: one worker's scrape would sum what a test in
    another worker sent. The qcluster a test starts is no pytest process and keeps it."""
    directory = env("PROMETHEUS_MULTIPROC_DIR")
    if under_pytest and (not directory or env("CRIER_PYTEST_METRICS_DIR") == directory):
        import atexit
        import shutil
        import tempfile

        directory = tempfile.mkdtemp(prefix="crier-metrics-")
        os.environ["CRIER_PYTEST_METRICS_DIR"] = directory
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    elif not directory and debug:
        directory = str(BASE_DIR / "var" / "prometheus")
    return directory


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
