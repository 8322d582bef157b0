"""GET /metrics across processes: a real ``qcluster`` sends a campaign to an emulator, and
this test process, which sends nothing itself, scrapes what the cluster's workers observed
(prometheus-client's multi-process files: docs/metrics.md, "Several processes"). Then the
cluster dies and the ticker's last-round age grows.

The data is committed (``transaction=True``) so the cluster, a separate process, sees it;
the cluster inherits this process's ``PROMETHEUS_MULTIPROC_DIR`` through its environment.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from campaigns.models import Dispatch, DispatchStatus
from tests.campaigns.conftest import (  # noqa: F401  (fixtures and the hook that attaches qcluster logs)
    approved_campaign,
    make_account,
    make_audience,
    make_recipients,
    pytest_runtest_makereport,
    qcluster,
    start_emulator,
    template,
    wait_for,
)
from tests.config.test_metrics import TOKEN, Scrape, scrape

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

RECIPIENTS = 12


@pytest.fixture(autouse=True)
def like_the_cluster(settings):
    settings.CRIER_METRICS_TOKEN = TOKEN
    # The cluster ticks every 0.2 s (the qcluster fixture); web and workers of one deployment
    # share the setting, and the ticker's age is read from a lease renewed per tick.
    settings.CRIER_DISPATCH_TICK_SECONDS = 0.2


def test_what_a_cluster_observed_while_sending_shows_in_this_process_and_a_stopped_ticker_ages(
    client, make_account, approved_campaign, qcluster  # noqa: F811
):
    account, server = make_account("alipayplus", max_concurrency=4)
    make_recipients(RECIPIENTS)
    before = scrape(client)
    cluster = qcluster()
    approved_campaign(account, make_audience("all"), due=timezone.now() - timedelta(seconds=3))
    async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")

    def sent() -> bool:
        return Dispatch.objects.filter(status=DispatchStatus.SENT).exists()

    wait_for(sent, timeout=120, what="the dispatch to be sent")
    # The answers are stored (and counted) before the dispatch is finished.
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert len(server.app.accepted) == RECIPIENTS
    assert moved("crier_deliveries_total", provider_kind="alipayplus", outcome="delivered") == RECIPIENTS
    assert moved("crier_provider_request_seconds_count", provider_kind="alipayplus") == RECIPIENTS
    assert moved("crier_provider_request_seconds_sum", provider_kind="alipayplus") > 0
    assert moved("crier_schedule_lateness_seconds_count") == 1
    assert moved("crier_schedule_lateness_seconds_sum") >= 3, "it was due 3 s before the cluster started"
    assert moved("crier_dispatches", status="sent") == 1
    assert after("crier_dispatches", status="pending") == 0

    # While the cluster runs, its ticker renews the lease every 0.2 s: some scrape sees a
    # round less than 0.6 s old (which also pins config.metrics.ticker_lease_seconds to the
    # lease time campaigns.tasks.dispatcher_loop really uses: a mismatch shifts the age).
    def live_round() -> Scrape | None:
        now = scrape(client)
        return now if now("crier_ticker_last_round_age_seconds") < 0.6 else None

    running = wait_for(live_round, timeout=30, what="a live ticker round")
    assert running("crier_ticker_last_round_age_seconds") >= 0

    cluster.kill()  # the machine dies: no handover, the lease just stops being renewed
    first = scrape(client)("crier_ticker_last_round_age_seconds")
    time.sleep(2.5)
    later = scrape(client)("crier_ticker_last_round_age_seconds")
    assert later - first >= 2.0, (first, later)
    assert later < 30
