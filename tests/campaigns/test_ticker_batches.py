"""Due occurrences are claimed in batches with ``SKIP LOCKED`` on PostgreSQL (campaigns/sending/ticker.py).

Many occurrences due at once: one tick claims them all, a ticker never waits for rows
another one holds, and with three real clusters racing, each occurrence is one dispatch
and one request at the emulator.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from campaigns.models import Campaign, Dispatch
from campaigns.sending import ticker
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience, race_ticks, wait_for
from tests.campaigns.test_engine_integration import finished, start_ticker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several tickers at once need PostgreSQL"),
]


def _due_now(make_account, approved_campaign, count: int):
    account, server = make_account("jiguang")
    audience = make_audience("users", user_ids=[f"u{i}" for i in range(5)])
    return [approved_campaign(account, audience) for _ in range(count)], server


def test_one_tick_claims_every_due_occurrence_and_skips_a_row_another_ticker_holds(
    make_account, approved_campaign
):
    campaigns, _ = _due_now(make_account, approved_campaign, ticker.BATCH * 2 + 10)
    held = campaigns[0]
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another ticker, in the middle of its batch
        try:
            with transaction.atomic():
                list(Campaign.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        started = time.monotonic()
        created = dispatcher_tick()
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join()

    assert took < 5  # did not wait for the held row (its holder waits 30 s)
    assert len(created) == len(campaigns) - 1  # several batches in one tick
    dispatched = set(Dispatch.objects.values_list("campaign_id", flat=True))
    assert dispatched == {c.pk for c in campaigns[1:]}
    assert Campaign.objects.get(pk=held.pk).next_due_at is not None

    [last] = dispatcher_tick()  # once released, the next tick takes it
    assert Dispatch.objects.get(pk=last).campaign_id == held.pk
    assert dispatcher_tick() == []


@pytest.mark.integration
def test_three_clusters_and_racing_tickers_send_each_of_many_due_occurrences_once(
    make_account, approved_campaign, qcluster
):
    for _ in range(3):
        qcluster()
    campaigns, server = _due_now(make_account, approved_campaign, 150)
    for _ in range(3):  # the clusters' ticker loops and duplicates race for the same rows
        start_ticker()
    race_ticks(4)

    wait_for(
        lambda: Dispatch.objects.count() == len(campaigns) and finished()(),
        timeout=600,
        interval=1,
        what="every occurrence to be sent",
    )
    time.sleep(2)  # a second request for an occurrence would show up here

    assert Dispatch.objects.count() == len(campaigns)
    by_campaign = Counter(int(a.key.split("-")[1]) for a in server.app.accepted)
    assert set(by_campaign) == {c.pk for c in campaigns}
    assert set(by_campaign.values()) == {1}
    assert len(server.app.accepted) == len(campaigns)


def test_a_batch_with_an_occurrence_already_dispatched_creates_the_others(make_account, approved_campaign):
    campaigns, _ = _due_now(make_account, approved_campaign, 3)
    already = Dispatch.objects.create(campaign=campaigns[1], due_at=campaigns[1].next_due_at)

    created = dispatcher_tick()  # the ids it woke a worker for

    assert len(created) == 2 and already.pk not in created  # the unique constraint refused the batch
    assert {Dispatch.objects.get(pk=pk).campaign_id for pk in created} == {campaigns[0].pk, campaigns[2].pk}
    assert Dispatch.objects.count() == 3
    assert not Campaign.objects.filter(next_due_at__isnull=False).exists()
