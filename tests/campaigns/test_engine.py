"""The send engine in-process, against the provider emulators over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    Recipient,
)
from campaigns.sending import batches
from campaigns.sending.operations import delivery_resolve, sending_resume, sending_stop
from campaigns.sending.plan import Planner, dispatch_plan
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.sending.watchdog import dispatches_recover
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.CRIER_RETRY_BASE_SECONDS = 0.01
    settings.CRIER_RETRY_MAX_SECONDS = 0.05


def run_due(**kwargs) -> list[Dispatch]:
    """Tick the dispatcher and run every dispatch it created to the end, in-process."""
    created = dispatcher_tick()
    for dispatch_id in created:
        outcome = "continue"
        while outcome == "continue":
            outcome = dispatch_run(dispatch_id, **kwargs)
    return list(Dispatch.objects.filter(pk__in=created))


def test_binance_broadcast_is_sent_once_and_the_campaign_ends_sent(make_account, approved_campaign):
    account, server = make_account("binance")
    campaign = approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT
    assert (dispatch.total_requests, dispatch.delivered) == (1, 1)
    assert len(server.app.accepted) == 1
    delivery = dispatch.deliveries.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.provider_code == "000000"
    assert delivery.attempt_log.count() == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.next_due_at is None


def test_a_second_tick_creates_no_second_dispatch(make_account, approved_campaign):
    account, server = make_account("binance")
    approved_campaign(account, make_audience("all"))
    assert len(dispatcher_tick()) == 1
    assert dispatcher_tick() == []
    assert Dispatch.objects.count() == 1


def test_a_duplicated_task_finds_the_dispatch_claimed_and_sends_nothing(make_account, approved_campaign):
    account, server = make_account("binance")
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert dispatch_run(dispatch_id) == "not-claimed"
    assert len(server.app.accepted) == 1


def test_alipayplus_sends_one_request_per_recipient_through_transient_faults(make_account, approved_campaign):
    account, server = make_account("alipayplus", max_attempts=20)
    ids = make_recipients(60)
    server.app.knobs.faults = {"UNKNOWN_EXCEPTION": 0.15, "REQUEST_TRAFFIC_EXCEED_LIMIT": 0.15}
    approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT, dispatch.detail
    assert dispatch.delivered == 60
    counts = server.app.counts_by_target()
    assert sorted(counts) == sorted(f"tok_{x}" for x in ids) or sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}
    assert DeliveryAttempt.objects.filter(outcome="retry").exists()
    # every retry used the same requestId as the first attempt
    keys = set(Delivery.objects.values_list("idempotency_key", flat=True))
    assert set(server.app.counts_by_key()) == keys


def test_jiguang_2500_user_ids_become_three_requests(make_account, approved_campaign):
    account, server = make_account("jiguang")
    ids = make_recipients(2500, kind="jiguang")
    approved_campaign(account, make_audience("users", user_ids=ids))

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT
    assert dispatch.total_requests == 3 and dispatch.total_recipients == 2500
    sizes = sorted(len(a.targets) for a in server.app.accepted)
    assert sizes == [500, 1000, 1000]
    assert set(server.app.counts_by_target().values()) == {1}


def test_suppressed_and_opted_out_recipients_are_skipped_with_the_reason(make_account, approved_campaign):
    account, server = make_account("jiguang")
    ids = make_recipients(10, kind="jiguang")
    Recipient.objects.filter(external_id=ids[0]).update(opted_out_providers=["jiguang"])
    approved_campaign(account, make_audience("users", user_ids=ids, suppressed=[ids[1]]))

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.total_recipients == 8
    assert dispatch.skipped == 2
    assert "opt" in dispatch.detail and "suppress" in dispatch.detail
    sent = set(server.app.counts_by_target())
    assert not sent & {f"tok_{ids[0]}", ids[0], f"tok_{ids[1]}", ids[1]}


def test_a_campaign_changed_after_approval_is_refused_not_sent(make_account, approved_campaign):
    account, server = make_account("binance")
    campaign = approved_campaign(account, make_audience("all"))
    Campaign.objects.filter(pk=campaign.pk).update(parameters={"name": "Eve", "bonus": "1000 USDT"})

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.REFUSED
    assert "changed since it was approved" in dispatch.detail
    assert server.app.accepted == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.next_due_at is None
    assert campaign.audit_events.filter(action="void").exists()


def test_an_occurrence_reached_after_its_expiry_is_recorded_expired_not_sent(make_account, approved_campaign):
    account, server = make_account("binance")
    approved_campaign(
        account, make_audience("all"), due=timezone.now() - timedelta(minutes=10), expired_seconds=60
    )

    [dispatch] = run_due()

    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.EXPIRED
    assert "expired_seconds is 60" in dispatch.detail
    assert server.app.accepted == []


def test_the_emergency_stop_halts_dispatching_and_resume_continues(make_account, approved_campaign):
    account, server = make_account("binance")
    approved_campaign(account, make_audience("all"))
    sending_stop(reason="wrong link")
    assert dispatcher_tick() == []

    sending_resume()
    [dispatch_id] = dispatcher_tick()
    sending_stop()
    assert dispatch_run(dispatch_id) == "stopped"
    assert Dispatch.objects.get(pk=dispatch_id).status == DispatchStatus.PENDING
    sending_resume()
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert len(server.app.accepted) == 1


def test_retryable_answers_give_up_after_the_accounts_max_attempts(make_account, approved_campaign):
    account, server = make_account("binance", max_attempts=3)
    server.app.knobs.faults = {"900231": 1.0}
    approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    delivery = dispatch.deliveries.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert delivery.provider_code == "900231"
    assert "gave up after 3 attempts" in delivery.provider_message
    assert dispatch.__class__.objects.get(pk=dispatch.pk).status == DispatchStatus.FAILED


def test_a_timeout_at_a_provider_without_idempotency_is_unknown_and_an_operator_closes_it(
    make_account, approved_campaign
):
    account, server = make_account("binance", timeout_seconds=0.3)
    server.app.knobs.latency_ms = 1500
    campaign = approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    delivery = dispatch.deliveries.get()
    assert delivery.status == DeliveryStatus.UNKNOWN
    assert Dispatch.objects.get(pk=dispatch.pk).status == DispatchStatus.FAILED
    assert delivery.attempts == 1  # never retried blindly

    delivery_resolve(delivery=delivery, action="close")
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.CLOSED
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED


def test_the_watchdog_resends_in_flight_alipayplus_requests_but_marks_broadcasts_unknown(
    make_account, approved_campaign
):
    alipay, alipay_server = make_account("alipayplus")
    make_recipients(3)
    binance, binance_server = make_account("binance")
    approved_campaign(alipay, make_audience("all"))
    approved_campaign(binance, make_audience("all", name="everyone-2"))
    dispatch_ids = dispatcher_tick()
    assert len(dispatch_ids) == 2
    # Simulate a worker that planned, marked its requests in flight, and died.
    for dispatch in Dispatch.objects.filter(pk__in=dispatch_ids).select_related("campaign__provider_account"):
        dispatch_plan(dispatch, dispatch.campaign.provider_account.provider(with_credentials=True))
        dispatch.deliveries.update(status=DeliveryStatus.IN_FLIGHT, attempts=1)
        Dispatch.objects.filter(pk=dispatch.pk).update(
            status=DispatchStatus.RUNNING,
            claimed_by="dead-worker",
            heartbeat_at=timezone.now() - timedelta(hours=1),
        )

    report = dispatches_recover()

    assert report["resumed"] == 2 and report["resent"] == 3 and report["unknown"] == 1
    for dispatch_id in dispatch_ids:
        dispatch_run(dispatch_id)
    assert len(alipay_server.app.accepted) == 3
    assert binance_server.app.accepted == []
    unknown = Delivery.objects.get(dispatch__campaign__provider_account=binance)
    assert unknown.status == DeliveryStatus.UNKNOWN and unknown.provider_code == "WORKER_LOST"


def test_a_worker_that_lost_its_claim_stops_sending(make_account, approved_campaign):
    account, server = make_account("alipayplus")
    make_recipients(5)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    Dispatch.objects.filter(pk=dispatch_id).update(status=DispatchStatus.RUNNING, claimed_by="someone-else")
    assert dispatch_run(dispatch_id) == "not-claimed"
    assert server.app.accepted == []


def test_a_dispatch_out_of_budget_hands_over_and_continues_where_it_stopped(make_account, approved_campaign):
    account, server = make_account("alipayplus", max_concurrency=2)
    make_recipients(100)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()

    assert dispatch_run(dispatch_id, budget_seconds=0) == "continue"
    first = len(server.app.accepted)
    assert 0 < first < 100
    assert Dispatch.objects.get(pk=dispatch_id).status == DispatchStatus.PENDING
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert set(server.app.counts_by_target().values()) == {1}
    assert len(server.app.accepted) == 100


def _plan_only(dispatch_id: int) -> Dispatch:
    """Plan a dispatch without sending it (what dispatch_run does before its send loop)."""
    dispatch = Dispatch.objects.select_related("campaign__provider_account").get(pk=dispatch_id)
    dispatch_plan(dispatch, dispatch.campaign.provider_account.provider(with_credentials=True))
    dispatch.refresh_from_db()
    return dispatch


def test_jiguang_addresses_are_kept_when_planning_and_sending_reads_no_recipient(
    make_account, approved_campaign
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    account, server = make_account("jiguang")
    ids = make_recipients(1500, kind="jiguang")
    approved_campaign(account, make_audience("users", user_ids=ids))
    [dispatch_id] = dispatcher_tick()
    dispatch = _plan_only(dispatch_id)

    first, second = dispatch.deliveries.order_by("batch_no")
    assert first.routes[:2] == [f"tok_{ids[0]}", f"tok_{ids[1]}"]  # the address of each target
    assert [len(first.routes), len(second.routes)] == [1000, 500]
    # A change after planning does not reach this occurrence: it sends what was planned.
    Recipient.objects.filter(external_id=ids[1]).update(addresses={"jiguang": "changed_after_planning"})

    with CaptureQueriesContext(connection) as queries:
        assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    recipient_table = Recipient._meta.db_table
    assert not [q["sql"] for q in queries if recipient_table in q["sql"]]
    sent = server.app.counts_by_target()
    assert sorted(sent) == sorted(f"tok_{x}" for x in ids) and set(sent.values()) == {1}


def test_alipayplus_tokens_are_not_copied_into_deliveries_and_a_refreshed_token_is_used(
    make_account, approved_campaign
):
    account, server = make_account("alipayplus")
    ids = make_recipients(3)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    dispatch = _plan_only(dispatch_id)
    assert [d.routes for d in dispatch.deliveries.all()] == [[], [], []]
    Recipient.objects.filter(external_id=ids[2]).update(addresses={"alipayplus": "tok_refreshed"})

    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    expected = [f"tok_{ids[0]}", f"tok_{ids[1]}", "tok_refreshed"]
    assert sorted(server.app.counts_by_target()) == sorted(expected)


def test_deliveries_planned_before_routes_existed_still_find_their_addresses(make_account, approved_campaign):
    account, server = make_account("jiguang")
    ids = make_recipients(5, kind="jiguang")
    approved_campaign(account, make_audience("users", user_ids=ids))
    [dispatch_id] = dispatcher_tick()
    dispatch = _plan_only(dispatch_id)
    dispatch.deliveries.update(routes=[])  # as a delivery from before migration 0008

    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert sorted(server.app.counts_by_target()) == sorted(f"tok_{x}" for x in ids)


def _one_planned_jiguang_request(make_account, approved_campaign, n: int):
    """A Jiguang campaign to ``n`` recipients, planned and not sent: (emulator, dispatch id, its
    one request)."""
    account, server = make_account("jiguang")
    ids = make_recipients(n, kind="jiguang")
    approved_campaign(account, make_audience("users", user_ids=ids))
    [dispatch_id] = dispatcher_tick()
    [delivery] = _plan_only(dispatch_id).deliveries.all()
    return server, dispatch_id, delivery


def test_deliveries_planned_with_address_and_language_pairs_send_to_those_addresses(
    make_account, approved_campaign
):
    """Before 2026-12-07 planning kept [address, language] per target; such rows, still open
    in a dispatch across the upgrade, are sent to the addresses they hold, not looked up."""
    server, dispatch_id, delivery = _one_planned_jiguang_request(make_account, approved_campaign, 5)
    delivery.routes = [[f"kept_{x}", "zh-CN"] for x in delivery.targets]
    delivery.save(update_fields=["routes"])

    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert sorted(server.app.counts_by_target()) == sorted(f"kept_{x}" for x in delivery.targets)


def _busiest_second(times: list[float]) -> int:
    """The most requests accepted within any one-second window."""
    times = sorted(times)
    start, most = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_dispatch_keeps_to_the_accounts_rate_limit(make_account, approved_campaign):
    account, server = make_account("alipayplus", rate_limit=20, max_concurrency=5)
    make_recipients(50)
    approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    assert dispatch.status == DispatchStatus.SENT
    times = [a.at for a in server.app.accepted]
    assert len(times) == 50
    # In any second: 20 new tokens, at most 5 saved up (the burst, max_concurrency) and at
    # most 5 requests that took their token earlier and were still in flight (a stalled
    # emulator answers them together). Without the limit, 50 requests take ~0.1 s.
    assert _busiest_second(times) <= 20 + 5 + 5
    # The 50th token is taken (50 - 5) / 20 = 2.25 s after the first; the first request's
    # own latency (up to ~0.75 s on a loaded machine) may shorten the span seen.
    assert max(times) - min(times) >= (50 - 5) / 20 - 0.75


def test_requests_still_unsent_when_the_occurrence_expires_mid_dispatch_are_never_sent(
    make_account, approved_campaign
):
    account, server = make_account("alipayplus", rate_limit=100, max_concurrency=5)
    make_recipients(400)
    approved_campaign(account, make_audience("all"), expired_seconds=3)

    [dispatch] = run_due()

    deliveries = list(Delivery.objects.filter(dispatch=dispatch))
    expired = [d for d in deliveries if d.status == DeliveryStatus.EXPIRED]
    delivered = [d for d in deliveries if d.status == DeliveryStatus.DELIVERED]
    assert expired, "400 requests at 100/s take 4 s: the last ones expire after 3 s"
    assert len(expired) + len(delivered) == 400
    accepted = server.app.counts_by_target()
    assert set(accepted.values()) <= {1}
    assert not {f"tok_{d.targets[0]}" for d in expired} & set(accepted), "an expired request was sent"
    assert {f"tok_{d.targets[0]}" for d in delivered} == set(accepted)
    # Not even a request taken into a chunk before the expiry leaves after it while it waits
    # for its rate-limit token (a chunk read at 2.95 s sent its last request at 3.9 s): what
    # the emulator accepted left before the expiry, give or take one request's way there.
    expires = (dispatch.due_at + timedelta(seconds=3)).timestamp()
    assert max(a.at for a in server.app.accepted) <= expires + 0.25


def test_a_request_read_ahead_but_settled_before_it_goes_out_is_not_sent(
    make_account, approved_campaign, monkeypatch
):
    account, server = make_account("alipayplus", max_concurrency=5)  # chunks of 100
    ids = make_recipients(150)
    approved_campaign(account, make_audience("all"))
    reads = []
    read_addresses = batches._addresses

    def addresses_then_settle_one(kind, external_ids):
        found = read_addresses(kind, external_ids)
        reads.append(sorted(found))
        if len(reads) == 2:  # the second chunk, read while the first is on the wire
            Delivery.objects.filter(targets=[ids[120]]).update(
                status=DeliveryStatus.FAILED, provider_message="closed by an operator"
            )
        return found

    monkeypatch.setattr(batches, "_addresses", addresses_then_settle_one)

    [dispatch] = run_due()

    assert ids[120] in reads[1]
    accepted = server.app.counts_by_target()
    assert f"tok_{ids[120]}" not in accepted
    assert len(accepted) == 149 and set(accepted.values()) == {1}
    assert Delivery.objects.get(targets=[ids[120]]).status == DeliveryStatus.FAILED


def test_planning_past_the_expiry_writes_no_request_and_counts_the_rest_as_expired(
    make_account, approved_campaign
):
    """An occurrence half planned when it expires: the loop stops writing requests only to
    mark them expired (campaigns/sending/plan.py, Planner.expired); the rest of the audience
    is counted — still by its own reason where it has one — and the occurrence did not arrive."""
    account, server = make_account("alipayplus", max_concurrency=5)
    ids = make_recipients(1200)
    Recipient.objects.filter(external_id__in=ids[1000::50]).update(opted_out_providers=["alipayplus"])
    approved_campaign(account, make_audience("all"), expired_seconds=60)
    [dispatch_id] = dispatcher_tick()
    dispatch = Dispatch.objects.select_related("campaign__provider_account", "campaign__audience").get(
        pk=dispatch_id
    )
    # A worker planned 10 requests and died; the occurrence expires before another resumes it.
    Planner(dispatch, account.provider(with_credentials=True)).step(max_requests=10)
    Dispatch.objects.filter(pk=dispatch_id).update(due_at=timezone.now() - timedelta(minutes=5))

    status = dispatch_run(dispatch_id)

    dispatch.refresh_from_db()
    assert status == dispatch.status == DispatchStatus.FAILED
    assert server.app.accepted == []
    assert Delivery.objects.filter(dispatch_id=dispatch_id).count() == dispatch.total_requests == 10
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.EXPIRED}
    assert dispatch.planned_at is not None
    assert dispatch.skipped_reasons == {"occurrence expired": 1200 - 10 - 4, "opted out of provider": 4}
    assert dispatch.skipped == 1190 and "1186 occurrence expired" in dispatch.detail


def _send_loop(dispatch_id: int):
    """The send loop ``dispatch_run`` would run for this dispatch: claimed, its first step planned."""
    import time

    from campaigns.provider_options import send_message
    from campaigns.sending.claims import claim, worker_id
    from campaigns.sending.loop import SendLoop
    from campaigns.sending.run import _claimed, _first_run

    me, now = worker_id(), timezone.now()
    assert claim(dispatch_id, me, now)
    dispatch = _claimed(dispatch_id, now)
    ended, planner = _first_run(dispatch, me, now)
    assert ended is None
    message = send_message(dispatch.campaign, dispatch=dispatch)
    return SendLoop(dispatch, planner, message, me=me, deadline=time.monotonic() + 60)


def test_requests_put_back_open_are_sent_before_the_dispatch_finishes(make_account, approved_campaign):
    """A chunk whose requests were all kept back and put back open, while the chunk read ahead
    came back empty (they were in flight then): the loop took that empty chunk for the end and
    finished the dispatch ``sent`` with the requests still pending. Putting requests back drops
    the chunk read ahead, and the loop never finishes while a request is open and due."""
    from campaigns.sending.batches import Chunk, read_chunk

    account, server = make_account("alipayplus")
    ids = make_recipients(3)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    loop = _send_loop(dispatch_id)
    assert loop.planner.done and loop.pipelined

    # Putting back drops the chunk read ahead.
    chunk = loop._mark_in_flight(read_chunk(dispatch_id, loop.provider, timezone.now(), 10), timezone.now())
    loop.ahead = Chunk()
    loop._put_back(chunk.deliveries)
    assert loop.ahead is None
    assert set(Delivery.objects.filter(dispatch_id=dispatch_id).values_list("status", "attempts")) == {
        (DeliveryStatus.PENDING, 0)
    }

    # And an empty chunk is not the end while requests are open and due.
    loop.ahead = Chunk()
    assert loop.run() == DispatchStatus.SENT
    dispatch = Dispatch.objects.get(pk=dispatch_id)
    assert dispatch.delivered == 3
    assert set(Delivery.objects.filter(dispatch_id=dispatch_id).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    assert sorted(server.app.counts_by_target()) == sorted(f"tok_{x}" for x in ids)


def test_a_request_that_cannot_be_built_from_its_planned_rows_fails_and_is_not_left_in_flight(
    make_account, approved_campaign
):
    """Requests are built on the thread that sends them (``batches.send_planned``); a row that
    cannot be read fails as a request the client could not build, never stays in flight."""
    server, dispatch_id, delivery = _one_planned_jiguang_request(make_account, approved_campaign, 3)
    delivery.routes = [7] * len(delivery.targets)  # neither an address nor a pair
    delivery.save(update_fields=["routes"])

    dispatch_run(dispatch_id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.provider_code) == (DeliveryStatus.FAILED, "CLIENT_ERROR")
    assert "TypeError" in delivery.provider_message
    assert server.app.counts_by_target() == {}
