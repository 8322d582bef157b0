"""Sending while planning, and waking on approval, through real ``qcluster`` processes.

Planning commits its Delivery rows in steps that are sent as soon as they are committed
(campaigns/sending/plan.py); an approval due now creates its dispatch and wakes a worker
when it commits, not at the ticker's next pass (campaigns/sending/ticker.py).
"""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus, Recipient
from tests.approvals.factories import make_campaign
from tests.campaigns.conftest import make_audience, make_recipients, wait_for
from tests.campaigns.test_engine_integration import finished, start_ticker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _sent_exactly_once(server, dispatch: Dispatch, expected: set[str]) -> None:
    counts = server.app.counts_by_target()
    assert set(counts) == {f"tok_{x}" for x in expected}, "every target reached, and only the audience's"
    assert set(counts.values()) == {1}, "no target reached twice"
    assert dispatch.status == DispatchStatus.SENT, dispatch.detail
    assert dispatch.planned_at is not None
    batches = list(Delivery.objects.filter(dispatch=dispatch).values_list("batch_no", flat=True))
    assert sorted(batches) == list(range(1, len(expected) + 1))
    assert dispatch.total_requests == dispatch.total_recipients == dispatch.delivered == len(expected)


def test_a_worker_killed_while_a_dispatch_is_half_planned_and_half_sent_loses_no_target_and_doubles_none(
    make_account, approved_campaign, qcluster
):
    account, server = make_account("alipayplus", max_concurrency=5)
    ids = make_recipients(10_000)
    opted_out = set(ids[3::11])
    Recipient.objects.filter(external_id__in=opted_out).update(opted_out_providers=["alipayplus"])
    server.app.knobs.latency_ms = 20  # slow enough to be killed while planning goes on
    first = qcluster()
    approved_campaign(account, make_audience("all"))
    start_ticker()

    def half_planned_half_sent():
        dispatch = Dispatch.objects.filter().first()
        return dispatch and dispatch.planned_at is None and len(server.app.accepted) > 300

    wait_for(half_planned_half_sent, timeout=120, what="a dispatch sending while it is half planned")
    first.kill()
    dispatch = Dispatch.objects.get()
    sent_before = len(server.app.accepted)
    assert dispatch.planned_at is None, "killed after planning ended: not the case under test"
    assert 0 < dispatch.total_requests < len(ids) - len(opted_out)
    assert sent_before < len(ids) - len(opted_out)

    qcluster()  # a new machine; the watchdog finds the stale dispatch and resumes its planning too
    start_ticker()
    wait_for(finished(), timeout=240, what="the dispatch to finish")

    dispatch.refresh_from_db()
    _sent_exactly_once(server, dispatch, set(ids) - opted_out)
    assert dispatch.skipped == len(opted_out)
    assert dispatch.skipped_reasons == {"opted out of provider": len(opted_out)}


def test_sending_starts_before_planning_ends(make_account, approved_campaign, qcluster):
    account, server = make_account("alipayplus", max_concurrency=5)
    ids = make_recipients(4000)
    server.app.knobs.latency_ms = 10
    qcluster()
    approved_campaign(account, make_audience("all"))
    start_ticker()

    wait_for(finished(), timeout=180, what="the dispatch to finish")

    dispatch = Dispatch.objects.get()
    first_request = min(a.at for a in server.app.accepted)
    assert first_request < dispatch.planned_at.timestamp(), "the first request left after planning ended"
    _sent_exactly_once(server, dispatch, set(ids))


@override_settings(CRIER_REQUIRE_PREVIEW=False)
def test_an_approval_due_now_wakes_a_worker_without_waiting_for_the_ticker(
    make_account, template, marketer, reviewer, reviewer2, qcluster
):
    """With a 30 s tick, the occurrence approved for now still leaves within seconds: its
    dispatch is created when the approval commits, and a worker woken for it."""
    account, server = make_account("alipayplus")
    ids = make_recipients(20)
    qcluster(CRIER_DISPATCH_TICK_SECONDS="30")
    campaign = make_campaign(
        marketer, template=template, provider_account=account, audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
    )
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    campaign_approve(campaign=campaign, actor=reviewer2)
    approved = time.time()

    # Created by the approval's commit itself, not by a tick or a queued task.
    assert Dispatch.objects.filter(campaign=campaign, is_preview=False).count() == 1
    wait_for(lambda: server.app.accepted, timeout=10, interval=0.05, what="the first request")
    assert min(a.at for a in server.app.accepted) - approved < 10  # well within one 30 s tick
    wait_for(finished({"campaign": campaign}), timeout=60, what="the dispatch to finish")
    assert set(server.app.counts_by_target()) == {f"tok_{x}" for x in ids}
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == len(ids)
