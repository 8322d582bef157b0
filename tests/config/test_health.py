"""The health probes (config/health.py): JSON per check, 200 or 503, open to probes, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.utils import timezone

from campaigns.models import Dispatch, DispatchStatus, Lease
from campaigns.sending.operations import sending_resume, sending_stop
from campaigns.tasks import TICKER_LEASE
from config import health
from tests.campaigns.conftest import (  # noqa: F401  (fixtures)
    approved_campaign,
    make_account,
    make_audience,
    make_recipients,
    qcluster,
    template,
    wait_for,
)
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

BASE_DIR = settings.BASE_DIR


def _json(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


# --- /healthz ----------------------------------------------------------------------------------
def test_healthz_answers_without_login_and_reads_nothing(client):
    # No django_db mark: pytest-django makes any database access here raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert _json(response) == {"status": "ok", "checks": {"process": {"status": "ok"}}}
    assert "no-cache" in response["Cache-Control"]
    assert not response.cookies  # no session, no CSRF cookie


def test_probes_take_get_and_head_only(client):
    assert client.head("/healthz").status_code == 200
    response = client.post("/healthz")
    assert response.status_code == 405


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.django_db
def test_probes_are_exempt_from_the_ssl_redirect_and_the_rest_is_not(client):
    assert client.get("/admin/login/").status_code == 301  # plain HTTP elsewhere is redirected
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz/dispatcher").status_code in {200, 503}  # answered, not redirected


def test_host_checking_still_applies_to_probes(client):
    # A probe sends a Host in ALLOWED_HOSTS (README, "Probes"); host checking is not disabled.
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 400


@pytest.mark.django_db
def test_probes_are_not_throttled_like_the_api(client):
    # The API allows 60 anonymous requests a minute; an orchestrator probing every second
    # from one address must never get a 429.
    anon_per_minute = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"].split("/")[0])
    codes = {client.get("/readyz").status_code for _ in range(anon_per_minute + 20)}
    assert codes == {200}


# --- /readyz -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_readyz_checks_database_migrations_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = _json(response)
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["migrations"] == {"status": "ok"}
    assert body["checks"]["broker"] == {"status": "ok", "broker": "redis" if settings.REDIS_URL else "orm"}


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_unapplied(client):
    # Forget that the newest campaigns migration ran (rolled back with the test).
    recorder = MigrationRecorder.Migration.objects
    newest = recorder.filter(app="campaigns").order_by("-applied", "-id").first()
    recorder.filter(pk=newest.pk).delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = _json(response)
    assert body["status"] == "fail"
    assert body["checks"]["migrations"] == {"status": "fail", "unapplied": 1}
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_when_redis_does_not_answer_and_says_nothing_of_its_address(client):
    health._redis_client.cache_clear()
    try:
        # Nothing listens on port 1: the connection is refused at once.
        with override_settings(REDIS_URL="redis://:hunter2-secret@127.0.0.1:1/0"):
            response = client.get("/readyz")
    finally:
        health._redis_client.cache_clear()
    assert response.status_code == 503
    body = _json(response)
    assert body["checks"]["broker"] == {"status": "fail", "error": "ConnectionError"}
    text = response.content.decode()
    assert "hunter2" not in text and "127.0.0.1" not in text and ":1" not in text


def test_readyz_is_503_without_a_database_and_names_no_path(tmp_path):
    """A web process whose database cannot be opened is not ready (a real process, a real failure)."""
    missing = tmp_path / "no-such-dir" / "crier.sqlite3"
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz');"
        "print(r.status_code); print(r.content.decode())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CRIER_ENV_FILE="",
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=f"sqlite:///{missing}",
    )
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    status, body = out.stdout.strip().splitlines()[-2:]
    assert status == "503"
    checks = json.loads(body)["checks"]
    assert checks["database"] == {"status": "fail", "error": "OperationalError"}
    assert checks["migrations"] == {"status": "fail"}
    assert "no-such-dir" not in body


# --- /healthz/dispatcher -----------------------------------------------------------------------
def _lease_renewed(seconds_ago: float) -> None:
    """Write the lease as a ticker round ``seconds_ago`` would have (campaigns/tasks.py)."""
    expires_at = timezone.now() - timedelta(seconds=seconds_ago - health.ticker_lease_seconds())
    Lease.objects.update_or_create(name=TICKER_LEASE, defaults={"holder": "host:1", "expires_at": expires_at})


@pytest.mark.django_db
def test_dispatcher_is_503_when_the_ticker_never_ran(client):
    response = client.get("/healthz/dispatcher")
    assert response.status_code == 503
    ticker = _json(response)["checks"]["ticker"]
    assert ticker["status"] == "fail" and ticker["detail"] == "the ticker has never run"


@override_settings(CRIER_TICKER_MAX_AGE_SECONDS=30)
@pytest.mark.django_db
def test_dispatcher_follows_the_age_of_the_tickers_last_round(client):
    _lease_renewed(2)
    response = client.get("/healthz/dispatcher")
    assert response.status_code == 200, response.content
    body = _json(response)
    assert body["status"] == "ok"
    assert 1.5 <= body["checks"]["ticker"]["last_round_age_seconds"] <= 10
    assert body["checks"]["ticker"]["max_age_seconds"] == 30
    assert body["checks"]["stale_dispatches"]["status"] == "ok"

    _lease_renewed(31)
    response = client.get("/healthz/dispatcher")
    assert response.status_code == 503
    ticker = _json(response)["checks"]["ticker"]
    assert ticker["status"] == "fail" and ticker["last_round_age_seconds"] >= 31


@override_settings(CRIER_STALE_DISPATCH_SECONDS=20)
@pytest.mark.django_db
def test_dispatcher_is_503_while_a_dispatch_is_stale_beyond_the_watchdogs_bound(
    client, make_account, approved_campaign  # noqa: F811
):
    _lease_renewed(1)
    account, _ = make_account("jiguang")
    make_recipients(2, kind="jiguang")
    campaign = approved_campaign(account, make_audience())
    bound = 20 + health.WATCHDOG_PERIOD_SECONDS
    now = timezone.now()
    running = Dispatch.objects.create(
        campaign=campaign, due_at=now, status=DispatchStatus.RUNNING, heartbeat_at=now - timedelta(seconds=5)
    )
    assert client.get("/healthz/dispatcher").status_code == 200  # a live heartbeat

    Dispatch.objects.filter(pk=running.pk).update(heartbeat_at=now - timedelta(seconds=bound + 1))
    response = client.get("/healthz/dispatcher")
    assert response.status_code == 503
    stale = _json(response)["checks"]["stale_dispatches"]
    assert stale == {"status": "fail", "stale_running": 1, "stale_pending": 0, "bound_seconds": bound}

    # A pending dispatch nobody re-enqueued in time counts too (its task was lost).
    Dispatch.objects.filter(pk=running.pk).update(
        status=DispatchStatus.PENDING, updated_at=now - timedelta(seconds=bound + 1)
    )
    stale = _json(client.get("/healthz/dispatcher"))["checks"]["stale_dispatches"]
    assert (stale["stale_running"], stale["stale_pending"]) == (0, 1)

    # During an emergency stop the watchdog leaves them alone on purpose: not an alarm.
    sending_stop(reason="test")
    response = client.get("/healthz/dispatcher")
    assert response.status_code == 200
    assert _json(response)["checks"]["stale_dispatches"]["emergency_stop"] is True
    sending_resume()
    assert client.get("/healthz/dispatcher").status_code == 503


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_dispatcher_is_200_while_a_real_worker_runs_and_503_after_it_stops(client, qcluster):  # noqa: F811
    """A real qcluster runs the ticker loop; once it stops, the last round ages past the bound."""
    from django_q.tasks import async_task

    max_age = 4
    with override_settings(CRIER_TICKER_MAX_AGE_SECONDS=max_age, CRIER_DISPATCH_TICK_SECONDS=0.2):
        assert client.get("/healthz/dispatcher").status_code == 503  # never ran
        cluster = qcluster()
        async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")
        wait_for(
            lambda: client.get("/healthz/dispatcher").status_code == 200, timeout=60, what="a ticker round"
        )
        cluster.stop()
        wait_for(
            lambda: client.get("/healthz/dispatcher").status_code == 503,
            timeout=max_age + health.ticker_lease_seconds() + 10,
            what="the last round to age past the bound",
        )
        ticker = _json(client.get("/healthz/dispatcher"))["checks"]["ticker"]
        assert ticker["last_round_age_seconds"] > max_age
