"""GET /metrics (docs/metrics.md): who may read it, every family, and each family following
what happens; the provider requests go over real HTTP to the emulators.

The families observed in-process are summed over every process's files, which the
whole test session shares: tests compare a scrape before with one after, never absolute
values. tests/config/test_metrics_integration.py sends through a real qcluster.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus, Lease
from campaigns.sending.operations import sending_resume, sending_stop
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.tasks import TICKER_LEASE
from config.metrics import ticker_lease_seconds
from observability import metrics as observed
from providers.base import Batch, Message, Outcome
from tests.campaigns.conftest import (  # noqa: F401  (fixtures)
    approved_campaign,
    far_future,
    make_account,
    make_audience,
    make_recipients,
    start_emulator,
    template,
)

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"
BASE_DIR = Path(django_settings.BASE_DIR)

FAMILIES = {
    "crier_deliveries": "counter",
    "crier_provider_request_seconds": "histogram",
    "crier_schedule_lateness_seconds": "histogram",
    "crier_dispatches": "gauge",
    "crier_deliveries_awaiting_people": "gauge",
    "crier_ticker_last_round_age_seconds": "gauge",
    "crier_queue_depth": "gauge",
    "crier_emergency_stop": "gauge",
    "crier_metrics_source_up": "gauge",
}


@pytest.fixture(autouse=True)
def metrics_on(settings):
    settings.CRIER_METRICS_TOKEN = TOKEN


class Scrape:
    """One scrape's samples, looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value for f in self.families.values() for s in f.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples[(name, frozenset(labels.items()))]


def scrape(client) -> Scrape:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.content.decode())


# --- who may read it -------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, f"Bearer {TOKEN}"])
def test_with_no_token_configured_the_endpoint_is_off(client, settings, header):
    settings.CRIER_METRICS_TOKEN = ""
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 403
    assert b"CRIER_METRICS_TOKEN" in response.content
    assert b"crier_" not in response.content


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-the-token-at-all-0123456789",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_a_missing_or_wrong_token_is_401_and_reveals_nothing(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"Bearer <CRIER_METRICS_TOKEN>" in response.content
    assert TOKEN.encode() not in response.content and b"crier_" not in response.content


def test_the_scheme_is_case_insensitive_and_head_is_allowed(client):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200
    assert client.head("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_only_reads_are_allowed(client):
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_openmetrics_is_answered_when_asked_for(client):
    response = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/openmetrics-text"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def _settings_import(**env: str) -> subprocess.CompletedProcess:
    """Import config.settings in a fresh process (not under pytest) with ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PROMETHEUS", "CRIER_"))}
    clean.update(CRIER_ENV_FILE="", DEBUG="0", SECRET_KEY="x" * 50, **env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_a_short_token_and_a_token_without_a_shared_directory(tmp_path):
    short = _settings_import(CRIER_METRICS_TOKEN="changeme", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert short.returncode != 0 and "CRIER_METRICS_TOKEN must be at least 20 characters" in short.stderr
    alone = _settings_import(CRIER_METRICS_TOKEN=TOKEN)
    assert alone.returncode != 0 and "PROMETHEUS_MULTIPROC_DIR must name a directory" in alone.stderr
    shared = tmp_path / "shared"
    ok = _settings_import(CRIER_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared))
    assert ok.returncode == 0, ok.stderr
    assert shared.is_dir(), "settings create the directory"
    assert _settings_import().returncode == 0, "without a token, metrics need nothing"


def _seen_by_two_pytest_workers(tmp_path, **env: str) -> dict[str, str]:
    """Run four tests in two pytest-xdist workers; return each worker's metrics directory."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import os, pathlib\nfrom django.conf import settings\n"
        + "".join(
            f"def test_{n}():\n    pathlib.Path({str(tmp_path)!r}, 'seen-{n}').write_text("
            "os.environ['PYTEST_XDIST_WORKER'] + ' ' + settings.PROMETHEUS_MULTIPROC_DIR)\n"
            for n in range(4)
        )
    )
    inherited = ("PYTEST", "PROMETHEUS", "CRIER_PYTEST")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "load"]
    command += ["--rootdir", str(BASE_DIR), "-c", str(BASE_DIR / "pyproject.toml"), str(probe)]
    run = subprocess.run(command, cwd=BASE_DIR, env=clean | env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = dict(p.read_text().split(" ", 1) for p in tmp_path.glob("seen-*"))
    for p in tmp_path.glob("seen-*"):
        p.unlink()
    return seen


@pytest.mark.slow  # runs long: its file is scheduled first (tests/conftest.py)
def test_each_pytest_worker_scrapes_a_directory_of_its_own(tmp_path):
    """pytest-xdist's workers inherit the controller's environment: sharing its directory,
    one worker's scrape summed what a test in another worker sent (CI counted three lateness
    observations for one occurrence). A qcluster a test starts is no pytest process and keeps
    its test's directory (test_metrics_integration); a directory the operator set is kept."""
    own = _seen_by_two_pytest_workers(tmp_path)
    assert set(own) == {"gw0", "gw1"} and own["gw0"] != own["gw1"], own
    operator = str(tmp_path / "operator")
    assert _seen_by_two_pytest_workers(tmp_path, PROMETHEUS_MULTIPROC_DIR=operator) == {
        "gw0": operator,
        "gw1": operator,
    }


# --- every family ------------------------------------------------------------------------


def test_every_family_is_present_from_the_first_scrape(client):
    got = scrape(client)
    assert {name: got.families[name].type for name in FAMILIES if name in got.families} == FAMILIES
    assert got("crier_metrics_source_up", source="database") == 1
    assert got("crier_metrics_source_up", source="broker") == 1
    for status in DispatchStatus.values:
        assert got("crier_dispatches", status=status) == 0
    assert got("crier_ticker_last_round_age_seconds") == math.inf, "no ticker ever ran"
    # Labelled series exist at zero for every provider kind, so rate() is defined at once.
    assert ("crier_provider_request_seconds_count", frozenset({("provider_kind", "jiguang")})) in got.samples
    assert ("crier_deliveries_total", frozenset({("provider_kind", "mpaas"), ("outcome", "failed")})) in (
        got.samples
    )


# --- the ledger's state, read at scrape time ----------------------------------------------


def test_the_gauges_follow_the_ledger(client, make_account, approved_campaign, far_future):  # noqa: F811
    account, _server = make_account("binance")
    campaign = approved_campaign(account, make_audience("all"), due=far_future)
    due = timezone.now()
    for i, status in enumerate([DispatchStatus.HELD, DispatchStatus.HELD, DispatchStatus.SENT]):
        Dispatch.objects.create(campaign=campaign, due_at=due - timedelta(hours=i), status=status)
    Dispatch.objects.create(campaign=campaign, due_at=due, is_preview=True, status=DispatchStatus.SENT)
    sent = Dispatch.objects.get(status=DispatchStatus.SENT, is_preview=False)
    for n, status in enumerate([DeliveryStatus.UNKNOWN, DeliveryStatus.UNKNOWN, DeliveryStatus.DELIVERED]):
        Delivery.objects.create(dispatch=sent, batch_no=n + 1, idempotency_key=f"k-{n}", status=status)

    got = scrape(client)
    assert got("crier_dispatches", status="held") == 2
    assert got("crier_dispatches", status="sent") == 1, "previews are not occurrences"
    assert got("crier_deliveries_awaiting_people", state="held") == 2
    assert got("crier_deliveries_awaiting_people", state="unknown") == 2
    assert got("crier_emergency_stop") == 0

    sending_stop(reason="metrics test")
    assert scrape(client)("crier_emergency_stop") == 1
    sending_resume()
    assert scrape(client)("crier_emergency_stop") == 0


@pytest.fixture
def queue_left_empty():
    """The ORM broker's queue goes with the test's database; a Redis queue is emptied here."""
    yield
    if django_settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().delete_queue()


def test_queue_depth_counts_the_tasks_waiting(client, queue_left_empty):
    before = scrape(client)("crier_queue_depth")
    async_task("math.floor", 1.5)
    async_task("math.floor", 2.5)
    assert scrape(client)("crier_queue_depth") == before + 2


def test_ticker_age_is_read_from_its_lease(client):
    # A round renews the lease to now + ticker_lease_seconds() (campaigns.tasks.dispatcher_loop).
    now = timezone.now()
    lease = timedelta(seconds=ticker_lease_seconds())
    Lease.objects.create(name=TICKER_LEASE, holder="w1", expires_at=now + lease)
    assert 0 <= scrape(client)("crier_ticker_last_round_age_seconds") < 2
    Lease.objects.filter(name=TICKER_LEASE).update(expires_at=now - timedelta(seconds=90) + lease)
    assert 90 <= scrape(client)("crier_ticker_last_round_age_seconds") < 92


def test_a_source_that_cannot_be_read_is_reported_and_the_scrape_still_answers(client, monkeypatch):
    if django_settings.REDIS_URL:
        monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # nothing listens there
    else:
        monkeypatch.setattr(Conf, "ORM", "no-such-database")
    got = scrape(client)
    assert got("crier_metrics_source_up", source="broker") == 0
    assert "crier_queue_depth" not in got.families
    assert got("crier_metrics_source_up", source="database") == 1 and "crier_dispatches" in got.families


# --- what processes observe while sending --------------------------------------------------


@pytest.fixture
def fast_retries(settings):
    settings.CRIER_RETRY_BASE_SECONDS = 0.01
    settings.CRIER_RETRY_MAX_SECONDS = 0.05


def test_sending_a_campaign_moves_deliveries_latency_lateness_and_dispatches(
    client, make_account, approved_campaign, fast_retries  # noqa: F811
):
    account, _server = make_account("alipayplus")
    make_recipients(4)
    approved_campaign(account, make_audience("all"), due=timezone.now() - timedelta(seconds=5))
    before = scrape(client)

    [dispatch_id] = dispatcher_tick()
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert moved("crier_deliveries_total", provider_kind="alipayplus", outcome="delivered") == 4
    assert moved("crier_deliveries_total", provider_kind="alipayplus", outcome="failed") == 0
    assert moved("crier_provider_request_seconds_count", provider_kind="alipayplus") == 4
    assert moved("crier_provider_request_seconds_sum", provider_kind="alipayplus") > 0
    assert moved("crier_provider_request_seconds_count", provider_kind="binance") == 0
    assert moved("crier_schedule_lateness_seconds_count") == 1
    assert 5 <= moved("crier_schedule_lateness_seconds_sum") < 60, "due 5 s ago"
    assert moved("crier_schedule_lateness_seconds_bucket", le="2.0") == 0
    assert moved("crier_schedule_lateness_seconds_bucket", le="10.0") == 1
    assert moved("crier_dispatches", status="sent") == 1


def test_failed_answers_are_counted_as_failed(client, make_account, approved_campaign, fast_retries):  # noqa: F811
    account, server = make_account("alipayplus", max_attempts=2)
    make_recipients(3)
    approved_campaign(account, make_audience("all"))
    server.app.knobs.faults = {"UNKNOWN_EXCEPTION": 1.0}  # transient: retried, then given up
    before = scrape(client)

    [dispatch_id] = dispatcher_tick()
    while dispatch_run(dispatch_id) == "continue":
        pass
    after = scrape(client)

    def moved(outcome: str) -> float:
        labels = {"provider_kind": "alipayplus", "outcome": outcome}
        return after("crier_deliveries_total", **labels) - before("crier_deliveries_total", **labels)

    assert (moved("retry"), moved("failed"), moved("delivered")) == (3, 3, 0)
    assert after("crier_provider_request_seconds_count", provider_kind="alipayplus") - before(
        "crier_provider_request_seconds_count", provider_kind="alipayplus"
    ) == 6


def test_a_metric_that_cannot_be_recorded_does_not_change_what_is_sent(  # noqa: F811
    make_account, monkeypatch, caplog  # noqa: F811
):
    """A failing metric (a full disk, a removed directory) must not turn a delivered
    request into a failed one: the provider has acted. It is said once a minute, not per request."""
    import httpx

    account, server = make_account("binance")
    monkeypatch.setattr(observed, "_last_logged", {})

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(observed.PROVIDER_REQUEST_SECONDS, "labels", broken)
    monkeypatch.setattr(observed.DELIVERIES, "labels", broken)
    monkeypatch.setattr(observed.schedule_lateness_seconds(), "observe", broken)
    provider = account.provider(with_credentials=True)
    message = Message(template_ref="1344001", language="en", parameters={"name": "Ada", "bonus": "1"})
    with httpx.Client(timeout=5) as http:
        results = [provider.send(http, message, Batch(key=f"metrics-broken-{n}")) for n in range(3)]
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3, results  # broadcasts
    assert len(server.app.accepted) == 3
    said = [r for r in caplog.records if "could not record a provider request's latency" in r.getMessage()]
    assert len(said) == 1 and "No space left on device" in said[0].exc_text
    observed.outcomes_recorded("binance", ["delivered"])  # swallowed and logged, not raised
    observed.occurrence_started(3.0)
