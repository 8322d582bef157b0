"""Stop means stop (issue #15 point 6), through a real ``qcluster`` and the Alipay+ emulator.

The issue: pulled while an Alipay+ campaign was sending, the stop answered at once but a
whole chunk (100 requests over 4.1 s) still reached the provider. Now every request
consults the stop right before it leaves, so within 1 s of ``POST /api/v1/stop/``
answering no request reaches the provider but those already in flight; resume sends the
rest, each recipient exactly once. The emulator's own arrival times are the evidence.
"""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus
from tests.campaigns.conftest import make_audience, make_recipients, wait_for
from tests.campaigns.test_engine_integration import finished, start_ticker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

RECIPIENTS = 300
RATE = 20  # requests/s: 300 recipients take 15 s
CONCURRENCY = 10  # chunks of 100 (5 s at 20/s), the "one chunk"


def test_within_1_s_of_the_stop_answering_no_request_reaches_the_provider_and_resume_sends_each_once(
    make_account, approved_campaign, qcluster, make_user
):
    account, server = make_account("alipayplus", rate_limit=RATE, max_concurrency=CONCURRENCY)
    make_recipients(RECIPIENTS)
    cluster = qcluster()
    approved_campaign(account, make_audience("all"))
    operator = APIClient()
    operator.force_authenticate(make_user("olga", "Operators"))
    start_ticker()

    # Early in the first chunk: a per-chunk stop would let about 80 more requests out.
    wait_for(lambda: len(server.app.accepted) >= 20, timeout=120, what="20 requests", interval=0.05)
    response = operator.post("/api/v1/stop/", {"reason": "wrong link"}, format="json")
    answered = time.time()
    assert response.status_code == 200 and response.json()["stopped"] is True

    dispatch = Dispatch.objects.get()
    wait_for(
        lambda: Dispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.PENDING).exists(),
        timeout=30,
        what="the dispatch handed back",
    )
    time.sleep(2)  # anything still leaving would arrive now
    arrivals = sorted(a.at for a in server.app.accepted)
    late = [t - answered for t in arrivals if t > answered + 1.0]
    assert late == [], f"{len(late)} requests reached the provider more than 1 s after the stop answered"
    after = [t for t in arrivals if t > answered]
    assert len(after) <= CONCURRENCY + RATE * 1, f"{len(after)} requests arrived after the stop answered"
    sent = len(arrivals)
    assert sent < RECIPIENTS, "the stop came while most of the campaign was unsent"
    assert not Delivery.objects.filter(status=DeliveryStatus.IN_FLIGHT).exists()
    unsent = Delivery.objects.filter(dispatch=dispatch, status=DeliveryStatus.PENDING)
    assert unsent.count() == RECIPIENTS - sent
    assert set(unsent.values_list("attempts", flat=True)) == {0}

    call_command("stop_sending", "--resume")  # the operator's other way in
    wait_for(finished(), timeout=120, what="the dispatch to finish")

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT, (dispatch.detail, cluster.output()[-3000:])
    counts = server.app.counts_by_target()
    assert len(counts) == RECIPIENTS, "every recipient was reached"
    assert set(counts.values()) == {1}, "no recipient was reached twice"


def test_the_stop_from_manage_py_holds_within_1_s_too(make_account, approved_campaign, qcluster):
    account, server = make_account("alipayplus", rate_limit=RATE, max_concurrency=CONCURRENCY)
    make_recipients(200)
    qcluster()
    approved_campaign(account, make_audience("all"))
    start_ticker()

    wait_for(lambda: len(server.app.accepted) >= 20, timeout=120, what="20 requests", interval=0.05)
    call_command("stop_sending", reason="provider outage")
    answered = time.time()
    wait_for(
        lambda: Dispatch.objects.filter(status=DispatchStatus.PENDING).exists(),
        timeout=30,
        what="the dispatch handed back",
    )
    time.sleep(2)
    assert [a.at for a in server.app.accepted if a.at > answered + 1.0] == []

    call_command("stop_sending", "--resume")
    wait_for(finished(), timeout=120, what="the dispatch to finish")
    counts = server.app.counts_by_target()
    assert len(counts) == 200 and set(counts.values()) == {1}
