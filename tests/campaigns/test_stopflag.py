"""The per-request stop check (issue #15 point 6): its reading is never older than 250 ms.

The flag's bound is tested with a clock the test moves, not by sleeping and timing; the
send loop's use of it runs against the Alipay+ emulator over real HTTP.
"""

from __future__ import annotations

import threading
import time

import pytest

from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending import shutdown
from campaigns.sending.operations import sending_resume, sending_stop
from campaigns.sending.ratelimit import TokenBucket
from campaigns.sending.run import dispatch_run
from campaigns.sending.stopflag import MAX_AGE, Halt, Refresher, StopFlag
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience, make_recipients, wait_for


class Clock:
    """Monotonic seconds the test sets."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Switch:
    """What the database would answer: the stop's state, and how often it was read."""

    def __init__(self, clock: Clock | None = None, takes: float = 0.0) -> None:
        self.stopped = False
        self.reads = 0
        self.clock = clock
        self.takes = takes  # how long a read takes, on ``clock``

    def __call__(self) -> bool:
        self.reads += 1
        value = self.stopped
        if self.clock is not None:
            self.clock.now += self.takes
        return value


def flag_with(clock: Clock, switch: Switch, *, in_shutdown=lambda: False) -> StopFlag:
    return StopFlag(switch, clock=clock, in_shutdown=in_shutdown)


def halted_in_thread(flag: StopFlag) -> tuple[threading.Thread, list]:
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(flag.halted(poll=0.01)), daemon=True)
    thread.start()
    return thread, answer


def test_the_bound_is_250_ms():
    assert MAX_AGE == 0.25


def test_a_reading_up_to_250_ms_old_answers_without_reading_again():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    flag.refresh()
    clock.now += MAX_AGE
    assert flag.halted() is None
    assert switch.reads == 1


def test_a_request_never_leaves_on_a_reading_older_than_250_ms_it_waits_for_the_next():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    flag.refresh()
    clock.now += MAX_AGE + 0.001
    thread, answer = halted_in_thread(flag)
    thread.join(0.3)
    assert thread.is_alive() and answer == [], "it must wait, not send on a stale reading"
    switch.stopped = True  # the stop was committed meanwhile
    flag.refresh()
    thread.join(5)
    assert answer == [Halt.STOP]


def test_the_age_counts_from_when_the_read_started_so_a_slow_read_is_already_old():
    clock, switch = Clock(), Switch()
    switch.clock, switch.takes = clock, 0.3  # the query took 300 ms
    flag = flag_with(clock, switch)
    flag.refresh()
    thread, answer = halted_in_thread(flag)
    thread.join(0.3)
    assert thread.is_alive()
    switch.takes = 0.0
    flag.refresh()
    thread.join(5)
    assert answer == [None]


def test_a_reading_is_due_again_at_half_the_bound_so_requests_seldom_wait():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    flag.refresh_if_due()
    assert switch.reads == 1
    clock.now += MAX_AGE / 2 - 0.001
    flag.refresh_if_due()
    assert switch.reads == 1
    clock.now += 0.001
    flag.refresh_if_due()
    assert switch.reads == 2


def test_the_reader_thread_keeps_the_reading_fresh_while_the_loop_is_busy_elsewhere():
    """While the loop's thread stores answers, a thread of its own reads the stop, so a
    stop committed meanwhile reaches the requests without the loop."""
    switch = Switch()
    flag = StopFlag(switch, in_shutdown=lambda: False)
    reader = Refresher(flag, name="test-stop-reader")
    reader.start()
    try:
        assert flag.halted() is None
        switch.stopped = True
        assert wait_for(lambda: flag.halted() is Halt.STOP, timeout=5, interval=0.01, what="the stop seen")
        assert switch.reads >= 2
    finally:
        reader.stop()
    assert not reader.is_alive()


def test_a_chunk_answered_within_half_the_bound_makes_the_reader_read_nothing():
    """The loop reads the stop right before a chunk; the reader's first reading is due half the
    bound later. Reading at once cost a database connection (a PostgreSQL server process) per
    chunk, hence per small dispatch."""
    switch = Switch()
    flag = StopFlag(switch, in_shutdown=lambda: False)
    flag.refresh()  # the loop's reading before the chunk
    reader = Refresher(flag, name="test-stop-reader")
    reader.start()
    reader.stop()  # the chunk was answered at once
    assert switch.reads == 1, "the reader read although the loop's reading was fresh"
    assert flag.halted() is None


def test_a_stop_seen_halts_every_request_until_a_reading_says_otherwise():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    switch.stopped = True
    flag.refresh()
    assert [flag.halted() for _ in range(3)] == [Halt.STOP] * 3
    switch.stopped = False  # resumed before the loop's next pass
    flag.refresh()
    assert flag.halted() is None


def test_a_shutdown_halts_at_once_without_reading_the_database():
    clock, switch = Clock(), Switch()
    down = threading.Event()
    flag = flag_with(clock, switch, in_shutdown=down.is_set)
    down.set()
    assert flag.halted() is Halt.SHUTDOWN  # no reading yet, and none needed
    assert switch.reads == 0


def test_past_the_occurrences_expiry_no_request_leaves():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    flag.refresh()
    flag.expire_at(clock.now + 0.1)
    assert flag.halted() is None
    clock.now += 0.1
    assert flag.halted() is Halt.EXPIRED
    flag.refresh()  # a fresh reading of the stop changes nothing: the expiry is a time
    assert flag.halted() is Halt.EXPIRED


def test_a_rate_limit_wait_that_outlasts_the_expiry_ends_without_a_token():
    """A request taken into a chunk before the expiry, waiting for its token, is not sent after it."""
    flag = StopFlag(lambda: False, in_shutdown=lambda: False)
    flag.refresh()
    bucket = TokenBucket(rate=1, burst=1)
    assert bucket.take(flag) is None  # the saved-up token
    flag.expire_at(time.monotonic() + 0.1)  # the next token comes in 1 s, the expiry in 0.1 s
    started = time.monotonic()
    halt = None
    while halt is None and time.monotonic() - started < 5:
        flag.refresh_if_due()  # what the loop's thread does meanwhile
        halt = bucket.take(flag)
    assert halt is Halt.EXPIRED
    assert time.monotonic() - started < 0.9, "it stopped waiting at the expiry, not at the token"


def test_a_closed_flag_releases_waiting_requests_and_sends_nothing():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    thread, answer = halted_in_thread(flag)  # never read: waits
    thread.join(0.2)
    assert thread.is_alive()
    flag.close()
    thread.join(5)
    assert answer == [Halt.CLOSED]


def test_a_long_rate_limit_wait_ends_with_the_stop_not_with_a_token():
    """A worker waiting 2 s for a token must not wake and send after a stop."""
    switch = Switch()
    flag = StopFlag(switch, in_shutdown=lambda: False)
    flag.refresh()
    bucket = TokenBucket(rate=0.5, burst=1)
    assert bucket.take(flag) is None  # the saved-up token
    refresher = threading.Event()

    def loop_thread() -> None:  # what the send loop does while requests wait
        while not refresher.is_set():
            flag.refresh_if_due()
            time.sleep(0.02)

    thread = threading.Thread(target=loop_thread, daemon=True)
    thread.start()
    try:
        switch.stopped = True
        started = time.monotonic()
        assert bucket.take(flag) is Halt.STOP
        assert time.monotonic() - started < 1.5, "it woke for the stop, not for the token (2 s)"
    finally:
        refresher.set()
        thread.join(5)


def test_outside_a_qcluster_worker_there_is_no_shutdown():
    shutdown.use_event(shutdown._UNSET)
    try:
        assert shutdown.stop_event() is None
        assert shutdown.shutting_down() is False
    finally:
        shutdown.use_event(shutdown._UNSET)


# --- the send loop, in-process, against the Alipay+ emulator over real HTTP ------------------


@pytest.mark.django_db(transaction=True)
def test_a_stop_halts_a_chunk_part_way_and_resume_sends_the_rest_exactly_once(
    make_account, approved_campaign
):
    """20 requests/s, chunks of 80: the stop lands inside a chunk. Committed from another
    thread (as the API does), it is seen by the requests within 250 ms; those not issued
    stay pending with no attempt counted; resume sends each of them once."""
    account, server = make_account("alipayplus", rate_limit=20, max_concurrency=4)
    make_recipients(120)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    answered: list[float] = []

    def operator() -> None:
        from django.db import connection

        try:
            wait_for(lambda: len(server.app.accepted) >= 20, timeout=30, what="20 requests", interval=0.01)
            sending_stop(reason="wrong link")
            answered.append(time.time())
        finally:
            connection.close()

    thread = threading.Thread(target=operator)
    thread.start()
    assert dispatch_run(dispatch_id) == "stopped"
    thread.join(10)

    late = [a.at for a in server.app.accepted if a.at > answered[0] + 1.0]
    assert late == [], f"{len(late)} requests reached the provider after the stop"
    sent = len(server.app.accepted)
    assert 20 <= sent < 60, "the stop landed part-way through the first chunk"
    assert Dispatch.objects.get(pk=dispatch_id).status == DispatchStatus.PENDING
    assert not Delivery.objects.filter(status=DeliveryStatus.IN_FLIGHT).exists()
    unsent = Delivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.PENDING)
    assert unsent.count() == 120 - sent
    assert set(unsent.values_list("attempts", flat=True)) == {0}, "a request not issued is not an attempt"

    sending_resume()
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    counts = server.app.counts_by_target()
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_a_lost_claim_halts_waiting_requests_like_a_stop():
    clock, switch = Clock(), Switch()
    flag = flag_with(clock, switch)
    flag.refresh()
    assert flag.halted() is None
    flag.mark_lost()
    assert flag.halted() == Halt.LOST
    assert flag.sleep(5) == Halt.LOST  # a rate-limit wait ends too


@pytest.mark.django_db(transaction=True)
def test_a_claim_taken_mid_chunk_stops_this_workers_requests_and_the_new_owner_sends_each_once(
    make_account, approved_campaign, settings
):
    """The watchdog gives a dispatch to another worker (its heartbeat looked dead) while
    this worker is part-way through a chunk: the heartbeat thread finds the claim gone and
    no further request of this worker leaves; what it never issued goes out once from the
    new owner."""
    settings.CRIER_STALE_DISPATCH_SECONDS = 2  # a heartbeat every 0.5 s
    account, server = make_account("alipayplus", rate_limit=20, max_concurrency=4)
    make_recipients(120)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    taken: list[float] = []

    def watchdog() -> None:
        from django.db import connection

        try:
            wait_for(lambda: len(server.app.accepted) >= 20, timeout=30, what="20 requests", interval=0.01)
            Dispatch.objects.filter(pk=dispatch_id).update(claimed_by="another-worker")
            taken.append(time.time())
        finally:
            connection.close()

    thread = threading.Thread(target=watchdog)
    thread.start()
    dispatch_run(dispatch_id)
    thread.join(10)

    # One heartbeat interval (0.5 s) plus a reading's age, with room for a loaded machine.
    late = [a.at for a in server.app.accepted if a.at > taken[0] + 1.5]
    assert late == [], f"{len(late)} requests left after the claim was taken"
    sent = len(server.app.accepted)
    assert sent < 80, "the chunk was cut short, not sent whole"
    assert not Delivery.objects.filter(status=DeliveryStatus.IN_FLIGHT).exists()

    # The new owner's run (here: the claim handed back, then run again) sends the rest once.
    Dispatch.objects.filter(pk=dispatch_id).update(status=DispatchStatus.PENDING, claimed_by="")
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    counts = server.app.counts_by_target()
    assert len(counts) == 120 and set(counts.values()) == {1}
