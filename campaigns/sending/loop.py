"""The send loop of one claimed, planned dispatch: chunk after chunk until it ends or hands over.

Every pass (:meth:`SendLoop._step`) checks, in this order, the emergency stop, the claim
(heartbeat), and the occurrence's expiry; then it takes the next chunk of open deliveries,
marks them ``in_flight`` (counting the attempt) *before* their requests leave, sends them
on a thread pool within the account's rate share, and stores the answers. The pass either
continues or ends the loop with one of the :class:`Exit` values or the dispatch's final
status.

Where the provider deduplicates our key (``limits.idempotent``) the loop is pipelined:
chunk N's answers are stored, and chunk N+1 is read with its addresses, while chunk N+1's
requests are on the wire; every database call stays on the loop's thread.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from django.conf import settings
from django.db.models import F, Min
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus, Dispatch
from campaigns.sending.batches import Chunk, read_chunk, send_one
from campaigns.sending.claims import HeartbeatThread, heartbeat, release
from campaigns.sending.finish import dispatch_finish, store_counts
from campaigns.sending.operations import sending_stopped
from campaigns.sending.outcomes import record_outcomes
from campaigns.sending.ratelimit import RateShare, TokenBucket
from campaigns.sending.transitions import OPEN_DELIVERY, delivery_move
from campaigns.sending.wake import enqueue_dispatch
from providers.base import Message, Provider, Result

logger = logging.getLogger(__name__)

# Seconds between recounts of a running dispatch's progress counters: the counters are a
# GROUP BY over all its deliveries, and recounting after every chunk made a dispatch
# quadratic in its size. They are also recounted whenever a task hands over or ends.
COUNT_INTERVAL = 1.0


class Exit(StrEnum):
    """How a send loop ended without finishing its dispatch (else: the final status)."""

    STOPPED = "stopped"  # emergency stop, or in-flight requests of a dead worker: handed back
    LOST_CLAIM = "lost-claim"  # the watchdog gave the dispatch to another worker
    CONTINUE = "continue"  # budget used: handed back, a new task continues it


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
        self, dispatch: Dispatch, provider: Provider, message: Message, *, me: str, deadline: float
    ) -> None:
        self.dispatch = dispatch
        self.provider = provider
        self.message = message
        self.me = me
        self.deadline = deadline
        self.account = dispatch.campaign.provider_account
        self.concurrency = max(1, self.account.max_concurrency)
        self.chunk_size = chunk_size_for(self.account, provider)
        rate = self.account.rate_limit
        self.bucket = TokenBucket(rate, burst=min(rate, self.concurrency))
        self.expires: datetime | None = None
        if not dispatch.is_preview:
            self.expires = dispatch.due_at + timedelta(seconds=dispatch.campaign.expired_seconds)
        self.pipelined = provider.limits.idempotent
        self.ahead: Chunk | None = None
        self.unrecorded: tuple[list[Delivery], list[Result]] | None = None
        self.counted_at = 0.0
        self.client: httpx.Client | None = None
        self.pool: ThreadPoolExecutor | None = None

    def run(self) -> str:
        """Send until the dispatch ends or this task hands over; return an Exit or the final status."""
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        with (
            httpx.Client(timeout=self.account.timeout_seconds, limits=limits) as client,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"dispatch-{self.dispatch.pk}") as pool,
            RateShare(self.account, self.bucket, self.concurrency),
        ):
            self.client, self.pool = client, pool
            self.counted_at = time.monotonic()
            while True:
                ended = self._step()
                if ended is not None:
                    return ended

    # --- one pass -------------------------------------------------------------------------

    def _step(self) -> str | None:
        """One pass: checks, the next chunk, sending it; an exit ends the loop, None goes on."""
        ended = self._check()
        if ended is not None:
            return ended
        now = timezone.now()
        chunk = self._next_chunk(now)
        if not chunk.deliveries:
            return self._idle()
        chunk = self._mark_in_flight(chunk, now)
        if not chunk.deliveries:
            return None
        self._send_chunk(chunk)
        return self._after_chunk()

    def _check(self) -> Exit | None:
        """The emergency stop and this worker's claim, before every chunk."""
        if sending_stopped():
            self._settle()
            store_counts(self.dispatch.pk)
            release(self.dispatch.pk, self.me, "halted by the emergency stop")
            return Exit.STOPPED
        if not heartbeat(self.dispatch.pk, self.me):
            self._settle()  # real answers from the provider: keep them
            return Exit.LOST_CLAIM
        return None

    def _next_chunk(self, now: datetime) -> Chunk:
        """The chunk read ahead, or the next one read now; expire what is unsent after expiry."""
        if self.expires is not None and now > self.expires:
            n = expire_open(self.dispatch.pk, "the occurrence expired before this request was sent")
            logger.warning("dispatch %s: %s unsent requests expired", self.dispatch.pk, n)
            self.ahead = None  # it may hold requests that have just expired
        chunk = self.ahead if self.ahead is not None else self._read(now)
        self.ahead = None
        return chunk

    def _read(self, now: datetime) -> Chunk:
        return read_chunk(self.dispatch.pk, self.provider, now, self.chunk_size)

    def _idle(self) -> str | None:
        """Nothing open is due: store the last answers, wait for retries, hand over or finish."""
        if self.unrecorded is not None:  # its retries may be what is left to send
            self._settle()
            return None
        waiting = Delivery.objects.filter(
            dispatch_id=self.dispatch.pk, status=DeliveryStatus.RETRY
        ).aggregate(at=Min("next_attempt_at"))["at"]
        if waiting is None:
            in_flight = Delivery.objects.filter(dispatch_id=self.dispatch.pk, status=DeliveryStatus.IN_FLIGHT)
            if in_flight.exists():
                # Only a crashed predecessor leaves these; the watchdog settles them.
                release(self.dispatch.pk, self.me, "requests in flight from a stopped worker")
                return Exit.STOPPED
            return dispatch_finish(self.dispatch)
        wait = max(0.0, (waiting - timezone.now()).total_seconds())
        if time.monotonic() + wait > self.deadline:
            store_counts(self.dispatch.pk)
            release(self.dispatch.pk, self.me, f"waiting {wait:.0f} s to retry")
            enqueue_dispatch(self.dispatch.pk)
            return Exit.CONTINUE
        time.sleep(min(wait, 1.0))
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
            )
            chunk = chunk.only(mine)
        for d in chunk.deliveries:
            d.attempts += 1
            d.status = DeliveryStatus.IN_FLIGHT
        return chunk

    def _send_chunk(self, chunk: Chunk) -> None:
        """Send the chunk's requests; meanwhile store the previous answers and read ahead."""
        beat = HeartbeatThread(self.dispatch.pk, self.me, max(0.5, settings.CRIER_STALE_DISPATCH_SECONDS / 4))
        beat.start()
        try:
            futures = [
                self.pool.submit(send_one, self.provider, self.client, self.bucket, self.message, batch)
                for batch in chunk.batches
            ]
            self._settle()  # the previous chunk, while this one is sent
            if self.pipelined:
                self.ahead = self._read(timezone.now())
            results = [future.result() for future in futures]
        finally:
            beat.stop()
        self.unrecorded = (chunk.deliveries, results)
        if not self.pipelined:
            self._settle()

    def _after_chunk(self) -> Exit | None:
        """Hand over when the task's budget is used; recount progress at most every second."""
        if time.monotonic() > self.deadline:
            self._settle()
            store_counts(self.dispatch.pk)
            if release(self.dispatch.pk, self.me, "continuing in a new task"):
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
