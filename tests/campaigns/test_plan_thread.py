"""Planning on a thread of its own beside the send loop (campaigns/sending/plan.py,
``PlanThread``): it keeps only ``lead`` requests planned ahead of sending, goes on as they
are sent, completes the plan exactly as one pass would, and stops when asked or when
another planner moved the cursor."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from campaigns.models import Delivery, DeliveryStatus, Dispatch
from campaigns.sending import loop, plan
from campaigns.sending.plan import Planner, PlanThread
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience, make_recipients, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the thread's connection must see the rows


def _planner(make_account, approved_campaign, n: int) -> Planner:
    account, _server = make_account("alipayplus")
    make_recipients(n)
    approved_campaign(account, make_audience("all"))
    (dispatch_id,) = dispatcher_tick()
    dispatch = Dispatch.objects.select_related(
        "campaign__provider_account", "campaign__audience", "campaign__template"
    ).get(pk=dispatch_id)
    return Planner(dispatch, dispatch.campaign.provider_account.provider(with_credentials=True))


def _open(dispatch_id: int) -> int:
    return Delivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.PENDING).count()


def test_the_thread_stays_lead_requests_ahead_of_sending_and_completes_the_plan(
    make_account, approved_campaign
):
    planner = _planner(make_account, approved_campaign, 300)
    thread = PlanThread(planner, 40, lead=100, name="plan-test")
    thread.start()
    try:
        dispatch_id = planner.dispatch.pk
        wait_for(lambda: _open(dispatch_id) >= 100, timeout=30, what="planning up to its lead")
        thread.wait_step(0.3)  # it would plan further here if it did not keep to its lead
        assert not planner.done and 100 <= _open(dispatch_id) < 140, "at most one step past its lead"
        # "Send" what is planned: planning goes on until the plan is complete.
        while not planner.done:
            Delivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.DELIVERED
            )
            thread.nudge()  # as the send loop does when it takes a chunk
            thread.wait_step(1.0)
        thread.join(timeout=30)
    finally:
        thread.stop()
    assert not thread.is_alive() and thread.error is None and not thread.lost
    batches = list(Delivery.objects.filter(dispatch_id=dispatch_id).values_list("batch_no", flat=True))
    assert sorted(batches) == list(range(1, 301)), "every recipient planned once, in order"
    assert Dispatch.objects.get(pk=dispatch_id).planned_at is not None


def test_a_thread_far_enough_ahead_waits_for_the_loop_to_take_a_chunk_not_for_a_timer(
    make_account, approved_campaign, monkeypatch
):
    """Counting the open requests every 50 ms was 6.7 % of a worker's GIL time while it sent
    (BENCHMARKS.md, "Third session"): ahead of sending, the thread counts again when nudged."""
    monkeypatch.setattr(plan, "LEAD_WAIT", 30.0)  # only a nudge (or stop) can end its wait now
    planner = _planner(make_account, approved_campaign, 300)
    thread = PlanThread(planner, 40, lead=100, name="plan-test")
    counts: list[int] = []
    count_open = thread._unsent
    thread._unsent = lambda: counts.append(count_open()) or counts[-1]
    thread.start()
    try:
        dispatch_id = planner.dispatch.pk
        wait_for(lambda: _open(dispatch_id) >= 100, timeout=30, what="planning up to its lead")
        thread.wait_step(0.3)
        counted = len(counts)
        time.sleep(1.0)
        assert len(counts) == counted, "a thread ahead of sending does not count again by itself"
        # The loop takes a chunk and nudges: the thread counts again and plans the next step.
        Delivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.IN_FLIGHT
        )
        thread.nudge()
        wait_for(lambda: _open(dispatch_id) > 0, timeout=10, what="the step after the nudge")
        assert len(counts) > counted
    finally:
        started = time.monotonic()
        thread.stop()
        stopped_in = time.monotonic() - started
    assert not thread.is_alive() and thread.error is None
    assert stopped_in < 10, "stop() ends the wait at once, not after LEAD_WAIT"


def test_a_thread_whose_cursor_another_planner_moved_stops_as_lost(make_account, approved_campaign):
    planner = _planner(make_account, approved_campaign, 50)
    other = Planner(Dispatch.objects.get(pk=planner.dispatch.pk), planner.provider)
    other.step(max_requests=10)  # another worker planned first: this planner's cursor is stale
    thread = PlanThread(planner, 10, lead=1000, name="plan-test")
    thread.start()
    thread.join(timeout=30)
    assert thread.lost and thread.error is None
    assert Delivery.objects.filter(dispatch_id=planner.dispatch.pk).count() == 10, "nothing planned twice"


def test_the_loop_plans_beside_sending_only_outside_a_transaction_and_not_on_sqlite():
    from django.db import transaction

    assert loop.plans_beside() is (connection.vendor != "sqlite")
    with transaction.atomic():
        assert loop.plans_beside() is False
