"""The garbage collector is paused while a chunk is read (campaigns/sending/collector.py):
collections during the read were most of a Jiguang request's CPU in the worker
(BENCHMARKS.md, "This round"). The pause must end with its last user, whatever the order
the threads leave in, and leave the switch as it found it."""

from __future__ import annotations

import gc
import threading

import pytest
from django.utils import timezone

from campaigns.models import Dispatch
from campaigns.sending.batches import read_chunk
from campaigns.sending.collector import collector_paused
from campaigns.sending.plan import dispatch_plan
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience


@pytest.fixture
def collections():
    """Count the collector's runs (``gc.callbacks``) while the test runs."""
    started = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        yield started
    finally:
        gc.callbacks.remove(count)


def _garbage_prone(n: int) -> list:
    return [[str(i), "en"] for i in range(n)]  # n container objects, all alive


def test_no_collection_runs_in_a_pause_and_it_runs_again_after(collections):
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        kept = _garbage_prone(50_000)
        during = list(collections)
    assert during == []
    assert gc.isenabled()
    collections.clear()
    kept += _garbage_prone(50_000)  # the same allocations outside a pause set it off again and again
    assert len(collections) > 10


def test_overlapping_pauses_end_with_the_last_whichever_thread_leaves_first():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first left": False}
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.django_db
def test_reading_a_chunk_of_jiguang_requests_runs_no_collection(make_account, approved_campaign, collections):
    """Six requests of 1,000 ids: 12,000 decoded containers and 6,000 targets, read with the
    collector paused: at most the one collection that the first allocation after the pause
    sets off (without the pause the default thresholds collect every 700, some 25 times)."""
    account, _server = make_account("jiguang")
    ids = [f"user{i:05d}" for i in range(6000)]
    campaign = approved_campaign(account, make_audience("users", user_ids=ids))
    dispatcher_tick()
    dispatch = Dispatch.objects.select_related("campaign__provider_account").get(campaign=campaign)
    provider = dispatch.campaign.provider_account.provider(with_credentials=True)
    dispatch_plan(dispatch, provider)
    collections.clear()
    chunk = read_chunk(dispatch.pk, provider, timezone.now(), 10)
    assert len(collections) <= 1
    batches = [chunk.batch(delivery) for delivery in chunk.deliveries]  # as the sending threads do
    assert [len(batch.targets) for batch in batches] == [1000] * 6
    assert [t.external_id for batch in batches for t in batch.targets] == ids
    assert gc.isenabled()


def test_a_new_worker_collects_then_freezes_what_it_started_with():
    """django-q2's ``post_spawn`` (sent in each new worker process) freezes the objects the
    worker starts with, so full collections no longer walk them (BENCHMARKS.md, "Fifth
    session"), after a collection, so no garbage is frozen with them."""
    import weakref

    from django_q.signals import post_spawn

    class Node:
        pass

    cycle = Node()
    cycle.me = cycle  # garbage only the collector can free
    gone = weakref.ref(cycle)
    alive = Node()
    del cycle
    before = gc.get_freeze_count()
    try:
        post_spawn.send(sender="django_q", proc_name="Process-1")
        assert gone() is None
        assert gc.get_freeze_count() > before + 1000  # the test process's modules, functions, …
        assert alive is not None
    finally:
        gc.unfreeze()
