"""The send loop of one claimed dispatch: chunk after chunk until it ends or hands over.

Planning goes on inside the loop (``campaigns.sending.plan.Planner``): one step is planned
while each chunk's requests are on the wire, and when every planned request is sent before
planning is done, the loop plans the next step instead of finishing. A dispatch finishes
only when planning is complete and every request is final.

Every pass (:meth:`SendLoop._step`) checks, in this order, the cluster's shutdown, the
emergency stop, the claim (heartbeat), and the occurrence's expiry; then it takes the next
chunk of open deliveries, marks them ``in_flight`` (counting the attempt) *before* their
requests leave, sends them on a thread pool within the account's rate share, and stores
the answers. The pass either continues or ends the loop with one of the :class:`Exit`
values or the dispatch's final status.

Stopping (issue #15 point 6, issue #19): each request consults the loop's
:class:`~campaigns.sending.stopflag.StopFlag` right before it leaves and during its
rate-limit wait, so the emergency stop halts a chunk part-way (within 250 ms) and a
SIGTERM to ``qcluster`` at once. Requests not issued go back to ``pending`` with their
attempt uncounted; those in flight finish and are stored; then the dispatch is handed
back (``running -> pending``) as the per-chunk stop did, so a resume or another worker
sends each of them exactly once (docs/architecture.md, *Execution*).

Where the provider deduplicates our key (``limits.idempotent``) the loop is pipelined:
chunk N's answers are stored, and chunk N+1 is read with its addresses, while chunk N+1's
requests are on the wire; every write stays on the loop's thread (the heartbeat, the rate
share and the stop reading have threads and connections of their own).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from django.conf import settings
from django.db import connection
from django.db.models import F, Min
from django.utils import timezone

from campaigns import stored_text
from campaigns.models import Delivery, DeliveryStatus, Dispatch
from campaigns.sending import shutdown
from campaigns.sending.batches import Chunk, OpenDelivery, open_due, read_chunk, send_planned
from campaigns.sending.claims import HeartbeatThread, heartbeat, release
from campaigns.sending.finish import dispatch_finish, dispatch_progress, store_counts
from campaigns.sending.operations import sending_stopped
from campaigns.sending.outcomes import record_outcomes
from campaigns.sending.plan import BULK_SIZE, PlanConflict, Planner, PlanThread
from campaigns.sending.pool import DaemonPool, Group
from campaigns.sending.ratelimit import RateShare, TokenBucket
from campaigns.sending.stopflag import Refresher, StopFlag
from campaigns.sending.transitions import OPEN_DELIVERY, delivery_move
from campaigns.sending.wake import enqueue_dispatch
from providers import http as provider_http
from providers.base import Message, Provider, Result

logger = logging.getLogger(__name__)

# Seconds between recounts of a running dispatch's progress counters: the counters are a
# GROUP BY over all its deliveries, and recounting after every chunk made a dispatch
# quadratic in its size. They are also recounted whenever a task hands over or ends.
COUNT_INTERVAL = 1.0

# Seconds a task whose cluster is shutting down waits for the requests already in flight
# (bounded by the account's timeout anyway): a graceful stop must end within the 10 s
# that docker stop and most orchestrators give (issue #19; docs/queue-and-http.md). Any
# still unanswered then are left to the watchdog, as after a crash.
SHUTDOWN_GRACE = 5.0

# Requests planned in one step while a chunk is on the wire (at least; two chunks' worth
# where chunks are larger), so planning keeps ahead of sending.
PLAN_STEP = 500
# A planning thread keeps at most this many steps planned ahead of sending.
PLAN_LEAD = 4

# Where the database takes writers in parallel, planning runs on a thread of its own beside
# the send loop (campaigns.sending.plan.PlanThread); SQLite has one writer, so there the
# loop plans between chunks. So it does inside a transaction (a caller's, a test's): another
# connection would not see the dispatch that transaction holds.
def plans_beside() -> bool:
    return connection.vendor != "sqlite" and not connection.in_atomic_block


class Exit(StrEnum):
    """How a send loop ended without finishing its dispatch (else: the final status)."""

    STOPPED = "stopped"  # emergency stop, or in-flight requests of a dead worker: handed back
    LOST_CLAIM = "lost-claim"  # the watchdog gave the dispatch to another worker
    CONTINUE = "continue"  # budget used: handed back, a new task continues it
    SHUTDOWN = "shutdown"  # the worker's cluster is stopping: handed back, a task for another worker enqueued


def expire_open(dispatch_id: int, reason: str) -> int:
    """Mark every still unsent request of a dispatch expired; return how many."""
    return delivery_move(
        OPEN_DELIVERY,
        DeliveryStatus.EXPIRED,
        where={"dispatch_id": dispatch_id},
        provider_message=reason,
        updated_at=timezone.now(),
    )


def chunk_size_for(account, provider: Provider) -> int:
    """How many requests one pass sends."""
    concurrency = max(1, account.max_concurrency)
    # Requests that are not deduplicated by the provider go in small chunks, so a crash
    # leaves few of them in flight (each becomes `unknown`); deduplicated ones in larger.
    size = concurrency * (20 if provider.limits.idempotent else 1)
    # …and no chunk should take much longer than a few seconds at the account's rate.
    return max(concurrency, min(size, int(account.rate_limit * 5)))


class SendLoop:
    """Send the open deliveries of one dispatch held by worker ``me`` until ``deadline``.

    The loop's state lives here, not in closures: the read-ahead chunk (``ahead``: read,
    not yet marked in flight, so leaving the loop leaves it open and an expiry discards
    it), the answered chunk not yet stored (``unrecorded``), and when the counters were
    last recounted.
    """

    def __init__(
        self, dispatch: Dispatch, planner: Planner, message: Message, *, me: str, deadline: float
    ) -> None:
        self.dispatch = dispatch
        self.planner = planner
        self.provider = provider = planner.provider
        self.plan_lost = False  # another planner moved the cursor: this worker lost the claim
        self.message = message
        self.me = me
        self.deadline = deadline
        self._ids = {"dispatch_id": dispatch.pk, "campaign_id": dispatch.campaign_id}  # JSON logs' keys
        self.account = dispatch.campaign.provider_account
        self.concurrency = max(1, self.account.max_concurrency)
        self.chunk_size = chunk_size_for(self.account, provider)
        self.plan_step = max(PLAN_STEP, 2 * self.chunk_size)
        rate = self.account.rate_limit
        self.bucket = TokenBucket(rate, burst=min(rate, self.concurrency))
        self.expires: datetime | None = None
        if not dispatch.is_preview:
            self.expires = dispatch.due_at + timedelta(seconds=dispatch.campaign.expired_seconds)
        self.pipelined = provider.limits.idempotent
        self.ahead: Chunk | None = None
        self.unrecorded: tuple[list[OpenDelivery], list[Result]] | None = None
        self.counted_at = 0.0
        self.client: httpx.Client | None = None
        self.pool: DaemonPool | None = None
        self.plan_thread: PlanThread | None = None
        # Consulted by each request before it leaves; read on this (the loop's) thread.
        self.stop = StopFlag(sending_stopped)
        if self.expires is not None:  # a request waiting for its token past the expiry stays unsent
            left = (self.expires - timezone.now()).total_seconds()
            self.stop.expire_at(time.monotonic() + left)
        self.shutdown_seen: float | None = None  # monotonic time the loop first saw a shutdown
        self.abandoned = False  # requests left in flight at shutdown (the watchdog settles them)

    def run(self) -> str:
        """Send until the dispatch ends or this task hands over; return an Exit or the final status."""
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        client = provider_http.client(timeout=self.account.timeout_seconds, limits=limits)
        pool = DaemonPool(self.concurrency, name=f"dispatch-{self.dispatch.pk}")
        self.client, self.pool = client, pool
        if plans_beside() and not self.planner.done:
            self.plan_thread = PlanThread(
                self.planner, self.plan_step, lead=PLAN_LEAD * self.plan_step, name=f"plan-{self.dispatch.pk}"
            )
            self.plan_thread.start()
        # The heartbeat and the stop reader run for the whole loop, each on a connection of
        # its own: started and stopped around every chunk, their threads (and the stop
        # reader's new database connection each time) were a third of the pause between two
        # chunks, when no request is on the wire (BENCHMARKS.md, "Third session"). Inside a
        # transaction (a caller's, a test's) no other connection sees the claim, so there the
        # loop's own heartbeat before every chunk is the only one (as for plans_beside).
        beat = None
        if not connection.in_atomic_block:
            beat = HeartbeatThread(
                self.dispatch.pk,
                self.me,
                max(0.5, settings.CRIER_STALE_DISPATCH_SECONDS / 4),
                on_lost=self.stop.mark_lost,
            )
        reader = Refresher(self.stop, name=f"stop-reader-{self.dispatch.pk}")
        try:
            with RateShare(self.account, self.bucket, self.concurrency):
                self.counted_at = time.monotonic()
                if beat is not None:
                    beat.start()
                reader.start()  # keeps the stop reading fresh while this thread stores answers
                try:
                    while True:
                        ended = self._step()
                        if ended is not None:
                            return ended
                finally:
                    self.stop.close()  # a request not yet issued is not issued any more
                    reader.stop()
                    if beat is not None:
                        beat.stop()
        finally:
            if self.plan_thread is not None:
                self.plan_thread.stop()  # before the claim is handed on: no step after this task
            if self.abandoned:
                # Threads still waiting for answers at shutdown: do not wait for them (nor
                # close the client under them); the worker process exits without them.
                pool.shutdown(wait=False)
            else:
                pool.shutdown(wait=True)
                client.close()

    # --- one pass -------------------------------------------------------------------------

    def _step(self) -> str | None:
        """One pass: checks, the next chunk, sending it; an exit ends the loop, None goes on."""
        ended = self._check()
        if ended is not None:
            return ended
        # Read before the chunk: planning on its own thread may complete after the chunk
        # was read empty, and its last rows must still be sent before the dispatch finishes.
        planned = self.planner.done
        now = timezone.now()
        chunk = self._next_chunk(now)
        if not chunk.deliveries:
            return self._idle(planned)
        chunk = self._mark_in_flight(chunk, now)
        if not chunk.deliveries:
            return None
        if not self._send_chunk(chunk):
            return Exit.SHUTDOWN  # requests left in flight: the claim goes stale, the watchdog settles them
        if self.plan_lost:
            self._settle()  # real answers from the provider: keep them
            return Exit.LOST_CLAIM
        return self._after_chunk()

    def _plan(self) -> None:
        """Plan and commit the next step, if planning is not done (``plan_lost`` on a conflict).
        With a planning thread, take its news instead (and raise what failed it)."""
        if self.plan_thread is not None:
            if self.plan_thread.error is not None:
                raise self.plan_thread.error
            if self.plan_thread.lost and not self.plan_lost:
                logger.warning("dispatch %s: planned by another worker", self.dispatch.pk, extra=self._ids)
                self.plan_lost = True
            return
        if self.planner.done or self.plan_lost:
            return
        try:
            # Past the expiry a step only counts (Planner.expired): its largest steps will do.
            self.planner.step(max_requests=BULK_SIZE if self.planner.expired else self.plan_step)
        except PlanConflict:
            logger.warning("dispatch %s: planned by another worker", self.dispatch.pk, extra=self._ids)
            self.plan_lost = True

    def _check(self) -> Exit | None:
        """The cluster's shutdown, the emergency stop and this worker's claim, before every chunk."""
        if shutdown.shutting_down():
            self._settle()
            store_counts(self.dispatch.pk)
            if release(self.dispatch.pk, self.me, stored_text.HANDED_BACK):
                enqueue_dispatch(self.dispatch.pk)  # another worker (cluster) continues at once
            return Exit.SHUTDOWN
        if self.stop.refresh():
            self._settle()
            store_counts(self.dispatch.pk)
            release(self.dispatch.pk, self.me, stored_text.HALTED)
            return Exit.STOPPED
        if not heartbeat(self.dispatch.pk, self.me):
            self._settle()  # real answers from the provider: keep them
            return Exit.LOST_CLAIM
        return None

    def _next_chunk(self, now: datetime) -> Chunk:
        """The chunk read ahead, or the next one read now; expire what is unsent after expiry."""
        if self.expires is not None and now > self.expires:
            n = expire_open(self.dispatch.pk, stored_text.EXPIRED_UNSENT)
            logger.warning("dispatch %s: %s unsent requests expired", self.dispatch.pk, n, extra=self._ids)
            self.ahead = None  # it may hold requests that have just expired
            self.planner.expired = True  # the rest of the audience is counted, not planned
        chunk = self.ahead if self.ahead is not None else self._read(now)
        self.ahead = None
        return chunk

    def _read(self, now: datetime) -> Chunk:
        return read_chunk(self.dispatch.pk, self.provider, now, self.chunk_size)

    def _idle(self, planned: bool) -> str | None:
        """Nothing open is due: store the last answers, wait for retries, hand over or finish.
        ``planned``: planning was complete before the empty chunk was read."""
        if self.unrecorded is not None:  # its retries may be what is left to send
            self._settle()
            return None
        if not planned:  # sending caught up with planning: plan the next step now (or wait for it)
            if self.plan_thread is not None:
                self.plan_thread.nudge()
                self.plan_thread.wait_step(0.5)
            self._plan()
            return Exit.LOST_CLAIM if self.plan_lost else None
        # One GROUP BY tells what is left; this worker alone writes the rows while it holds the
        # claim, so the counts stay true until the finish stores them.
        counts = dispatch_progress(self.dispatch.pk)
        waiting = None
        if counts.get(DeliveryStatus.RETRY) or counts.get(DeliveryStatus.PENDING):
            if open_due(self.dispatch.pk, timezone.now()).exists():
                return None  # due requests the empty chunk did not hold: never finish past them
            waiting = Delivery.objects.filter(
                dispatch_id=self.dispatch.pk, status__in=OPEN_DELIVERY
            ).aggregate(at=Min("next_attempt_at"))["at"]
        if waiting is None:
            if counts.get(DeliveryStatus.IN_FLIGHT):
                # Only a crashed predecessor leaves these; the watchdog settles them.
                release(self.dispatch.pk, self.me, stored_text.LEFT_IN_FLIGHT)
                return Exit.STOPPED
            return dispatch_finish(self.dispatch, counts=counts)
        wait = max(0.0, (waiting - timezone.now()).total_seconds())
        if time.monotonic() + wait > self.deadline:
            store_counts(self.dispatch.pk)
            why = stored_text.english(stored_text.WAITING_TO_RETRY, seconds=f"{wait:.0f}")
            release(self.dispatch.pk, self.me, why)
            enqueue_dispatch(self.dispatch.pk)
            return Exit.CONTINUE
        shutdown.sleep(min(wait, 1.0))  # a shutdown wakes it; the next _check hands over
        return None

    def _mark_in_flight(self, chunk: Chunk, now: datetime) -> Chunk:
        """Mark the chunk in flight and count the attempt; return the part this update marked."""
        ids = [d.pk for d in chunk.deliveries]
        marked = delivery_move(
            OPEN_DELIVERY,
            DeliveryStatus.IN_FLIGHT,
            where={"pk__in": ids},
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if marked != len(ids):
            # A row was read open but is not any more (read ahead, then settled elsewhere):
            # send exactly the rows this update marked (its updated_at is this `now`).
            mine = set(
                Delivery.objects.filter(
                    pk__in=ids, status=DeliveryStatus.IN_FLIGHT, updated_at=now
                ).values_list("pk", flat=True)
            )
            logger.warning(
                "dispatch %s: %d of %d requests were no longer open",
                self.dispatch.pk,
                len(ids) - len(mine),
                len(ids),
                extra=self._ids,
            )
            chunk = chunk.only(mine)
        for d in chunk.deliveries:
            d.attempts += 1
            d.status = DeliveryStatus.IN_FLIGHT
        if self.plan_thread is not None:
            self.plan_thread.nudge()  # fewer planned requests are open: it may plan the next step
        return chunk

    def _send_chunk(self, chunk: Chunk) -> bool:
        """Send the chunk's requests; meanwhile store the previous answers and read ahead.

        Each request consults ``self.stop`` before it leaves; those it kept back are put
        back open. Returns False only when, at shutdown, requests were still unanswered
        after ``SHUTDOWN_GRACE``: they are left in flight, with the claim, to the watchdog.
        """
        self.stop.refresh_if_due()
        send = (self.provider, self.client, self.bucket, self.message)
        group = self.pool.run_all(send_planned, [(*send, chunk, d, self.stop) for d in chunk.deliveries])
        self._settle()  # the previous chunk, while this one is sent
        self._plan()  # …and the next step of planning
        self.stop.refresh_if_due()
        if self.pipelined:
            self.ahead = self._read(timezone.now())
        results = self._answers(group)
        if results is None:
            self.abandoned = True
            return False
        sent = [(d, r) for d, r in zip(chunk.deliveries, results, strict=True) if r is not None]
        self._put_back([d for d, r in zip(chunk.deliveries, results, strict=True) if r is None])
        if sent:
            self.unrecorded = ([d for d, _r in sent], [r for _d, r in sent])
        if not self.pipelined:
            self._settle()
        return True

    def _answers(self, group: Group) -> list[Result | None] | None:
        """Wait for the chunk's requests, reading the stop for them meanwhile; None if abandoned.

        A request not issued because sending halted answers None. Reads the stop itself
        when the reader thread's reading is due (a fallback), so requests seldom wait.
        """
        while True:
            self.stop.refresh_if_due(after=self.stop.max_age)  # only if the reader thread lags
            if group.wait(self.stop.max_age / 4):
                break
            if shutdown.shutting_down():
                now = time.monotonic()
                if self.shutdown_seen is None:
                    self.shutdown_seen = now
                elif now - self.shutdown_seen > SHUTDOWN_GRACE:
                    logger.warning(
                        "dispatch %s: %d requests still in flight at shutdown; left to the watchdog",
                        self.dispatch.pk,
                        group.left,
                        extra=self._ids,
                    )
                    return None
        return group.results()

    def _put_back(self, deliveries: list[OpenDelivery]) -> None:
        """Reopen requests marked in flight but never issued (sending halted), attempt uncounted.

        The chunk read ahead meanwhile did not hold them (they were in flight): it is dropped,
        so the next pass reads them again, in batch order, with the rest."""
        if not deliveries:
            return
        self.ahead = None
        n = delivery_move(
            DeliveryStatus.IN_FLIGHT,
            DeliveryStatus.PENDING,
            where={"pk__in": [d.pk for d in deliveries]},
            attempts=F("attempts") - 1,
            updated_at=timezone.now(),
        )
        logger.info(
            "dispatch %s: sending halted; %d requests not issued, put back",
            self.dispatch.pk,
            n,
            extra=self._ids,
        )

    def _after_chunk(self) -> Exit | None:
        """Hand over when the task's budget is used; recount progress at most every second."""
        if time.monotonic() > self.deadline:
            self._settle()
            store_counts(self.dispatch.pk)
            if release(self.dispatch.pk, self.me, stored_text.CONTINUING):
                enqueue_dispatch(self.dispatch.pk)
            return Exit.CONTINUE
        if time.monotonic() - self.counted_at >= COUNT_INTERVAL:
            store_counts(self.dispatch.pk)
            self.counted_at = time.monotonic()
        return None

    def _settle(self) -> None:
        """Store the answered chunk not yet stored, if any."""
        if self.unrecorded is None:
            return
        deliveries, results = self.unrecorded
        self.unrecorded = None
        record_outcomes(
            deliveries,
            results,
            provider=self.provider,
            campaign=self.dispatch.campaign,
            max_attempts=self.account.max_attempts,
        )
