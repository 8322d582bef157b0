"""Health probes for load balancers, orchestrators and alerting (README, "Deploying").

Each answers JSON ``{"status": "ok"|"fail", "checks": {name: {"status": …, …}}}`` with HTTP
200 when every check is ok and 503 otherwise. They are plain Django views: no login, no
session, no API throttle (DRF's throttles apply to the API views only), exempt from the SSL
redirect (``SECURE_REDIRECT_EXEMPT`` in config/settings.py) so a probe can speak plain HTTP
to the pod. They still go through host checking: a probe sends a ``Host`` that is in
``ALLOWED_HOSTS`` (README, "Probes").

They reveal nothing secret: a failed check names the kind of error (``OperationalError``),
never its message (a database or Redis error can carry a host name or a user), and counts
rather than lists. The full error goes to the log of the process that answered.

* ``GET /healthz`` — liveness: this process answers. It reads nothing, so a slow database
  never gets a healthy web process restarted.
* ``GET /readyz`` — this web process can serve: the database answers, every migration is
  applied, the queue's broker answers (Redis ``PING`` when ``REDIS_URL`` is set, else the
  ORM broker's table). It does not depend on any worker running.
* ``GET /healthz/dispatcher`` — for alerting on the workers: the dispatcher ticker's last
  round is younger than ``CRIER_TICKER_MAX_AGE_SECONDS``, and no dispatch has gone without
  its worker for longer than the watchdog lets it (docs/architecture.md, "Execution model":
  one ticker loop under a lease, the watchdog resumes dispatches after
  ``CRIER_STALE_DISPATCH_SECONDS``).

This module sits in ``config``, the top layer, so it may read ``campaigns``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from campaigns.models import Dispatch, DispatchStatus, Lease
from campaigns.sending.operations import sending_stopped
from campaigns.tasks import TICKER_LEASE

logger = logging.getLogger(__name__)

OK = "ok"
FAIL = "fail"
# The watchdog runs once every 10 s inside the ticker loop (campaigns/tasks.py,
# dispatcher_loop): a dispatch is overdue once it is stale and a watchdog pass had time.
WATCHDOG_PERIOD_SECONDS = 10
# Redis must answer within this (a probe must not hang on a black-holed broker).
REDIS_TIMEOUT_SECONDS = 2.0


def _failed(check: str, exc: BaseException) -> dict[str, Any]:
    logger.warning("health check %s failed", check, exc_info=exc)
    return {"status": FAIL, "error": type(exc).__name__}


def _answer(checks: dict[str, dict[str, Any]]) -> JsonResponse:
    healthy = all(check["status"] == OK for check in checks.values())
    return JsonResponse({"status": OK if healthy else FAIL, "checks": checks}, status=200 if healthy else 503)


# --- /healthz ------------------------------------------------------------------------------
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers (reads nothing else)."""
    return _answer({"process": {"status": OK}})


# --- /readyz -------------------------------------------------------------------------------
def check_database() -> dict[str, Any]:
    """The database answers a query."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is "not ready", never a 500
        return _failed("database", exc)
    return {"status": OK}


def check_migrations() -> dict[str, Any]:
    """Every migration the code has is applied (a web process ahead of `migrate` is not ready)."""
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return _failed("migrations", exc)
    if plan:
        return {"status": FAIL, "unapplied": len(plan)}
    return {"status": OK}


@cache
def _redis_client():
    """One client (one connection pool) per process, with short timeouts."""
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def check_broker() -> dict[str, Any]:
    """django-q2's broker answers: Redis PING, or a read of the ORM broker's table."""
    if settings.REDIS_URL:
        try:
            _redis_client().ping()
        except Exception as exc:
            return _failed("broker", exc)
        return {"status": OK, "broker": "redis"}
    try:
        from django_q.models import OrmQ

        OrmQ.objects.using(settings.Q_CLUSTER.get("orm", DEFAULT_DB_ALIAS)).exists()
    except Exception as exc:
        return _failed("broker", exc)
    return {"status": OK, "broker": "orm"}


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness of this web process: database reachable and migrated, broker reachable."""
    database = check_database()
    checks = {"database": database}
    # Without a database there is nothing to learn about its migrations.
    checks["migrations"] = check_migrations() if database["status"] == OK else {"status": FAIL}
    checks["broker"] = check_broker()
    return _answer(checks)


# --- /healthz/dispatcher -------------------------------------------------------------------
def ticker_lease_seconds() -> float:
    """How far ahead the ticker loop sets its lease's expiry at each round.

    campaigns/tasks.py (dispatcher_loop) renews the lease every round to
    ``now + CRIER_DISPATCH_TICK_SECONDS * 5 + 5``; so a round happened that long before
    the expiry it wrote.
    """
    return settings.CRIER_DISPATCH_TICK_SECONDS * 5 + 5


def check_ticker(now) -> dict[str, Any]:
    """The dispatcher ticker's last round is younger than CRIER_TICKER_MAX_AGE_SECONDS."""
    limit = settings.CRIER_TICKER_MAX_AGE_SECONDS
    try:
        expires_at = Lease.objects.filter(name=TICKER_LEASE).values_list("expires_at", flat=True).first()
    except Exception as exc:
        return _failed("ticker", exc)
    if expires_at is None:
        return {"status": FAIL, "detail": "the ticker has never run", "max_age_seconds": limit}
    age = max(0.0, (now - (expires_at - timedelta(seconds=ticker_lease_seconds()))).total_seconds())
    return {
        "status": OK if age <= limit else FAIL,
        "last_round_age_seconds": round(age, 1),
        "max_age_seconds": limit,
    }


def check_stale_dispatches(now) -> dict[str, Any]:
    """No dispatch has been without its worker longer than the watchdog allows.

    The watchdog (campaigns/sending/watchdog.py) takes back a running dispatch whose
    heartbeat is older than CRIER_STALE_DISPATCH_SECONDS and re-enqueues a pending one
    untouched that long; one still in that state a watchdog period later means the
    watchdog is not running. During an emergency stop the watchdog leaves them alone on
    purpose, so they are not counted then.
    """
    bound = settings.CRIER_STALE_DISPATCH_SECONDS + WATCHDOG_PERIOD_SECONDS
    try:
        if sending_stopped():
            return {"status": OK, "emergency_stop": True, "bound_seconds": bound}
        overdue = now - timedelta(seconds=bound)
        running = Dispatch.objects.filter(status=DispatchStatus.RUNNING, heartbeat_at__lt=overdue).count()
        pending = Dispatch.objects.filter(status=DispatchStatus.PENDING, updated_at__lt=overdue).count()
    except Exception as exc:
        return _failed("stale_dispatches", exc)
    return {
        "status": OK if running + pending == 0 else FAIL,
        "stale_running": running,
        "stale_pending": pending,
        "bound_seconds": bound,
    }


@never_cache
@require_safe
def dispatcher(request: HttpRequest) -> JsonResponse:
    """The workers: the ticker runs, and no dispatch is stale beyond the watchdog's bound."""
    now = timezone.now()
    return _answer({"ticker": check_ticker(now), "stale_dispatches": check_stale_dispatches(now)})
