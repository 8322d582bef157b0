"""django-q2 entry points: thin, they take ids and call the send engine (``campaigns.sending``).

Their dotted names (``campaigns.tasks.run_dispatch`` …) are stored in queued tasks and in
django-q2 Schedules: keep them stable.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Lease
from campaigns.sending import shutdown
from campaigns.sending.claims import worker_id
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick, seconds_to_next_due
from campaigns.sending.watchdog import dispatches_recover

logger = logging.getLogger(__name__)

TICKER_LEASE = "dispatcher-ticker"
# The ticker loop wakes this long after an occurrence's due time (the database's clock and
# ours may differ by a little: a claim a moment early finds nothing due and waits a tick)…
DUE_MARGIN = 0.005
# …and never sleeps less than this between ticks.
MIN_PAUSE = 0.01


def run_dispatch(dispatch_id: int) -> str:
    """Send (or continue sending) one dispatch; return what happened."""
    return dispatch_run(dispatch_id)


def tick_once() -> list[int]:
    """Turn what is due now into dispatches (enqueued on approval of a campaign due now,
    so it does not wait for the ticker loop)."""
    return dispatcher_tick()


def recover_dispatches() -> dict[str, int]:
    """Watchdog: resume dispatches whose worker stopped or whose task was lost."""
    return dispatches_recover()


def _claim_lease(name: str, holder: str, seconds: float) -> bool:
    now = timezone.now()
    Lease.objects.get_or_create(name=name)
    return bool(
        Lease.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder), name=name
        ).update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )


def dispatcher_loop(duration: float | None = None) -> str:
    """Tick the dispatcher every CRIER_DISPATCH_TICK_SECONDS for ``duration`` seconds.

    django-q2's scheduler looks at its schedules only every 30 s, too coarse for sends
    that should start within seconds of their time. So one worker runs this loop: a
    lease keeps concurrent copies (from several clusters, or a duplicated task) waiting
    until it is free or their time is up, and each loop enqueues its successor before
    it ends. A django-q2 Schedule
    starts it every minute as a safety net in case the chain is lost (Redis broker).
    The watchdog runs every 10 s inside the loop. When the worker's cluster is shutting
    down (SIGTERM) the loop hands over at once instead of at ``duration``
    (campaigns/sending/shutdown.py).
    """
    from django_q.tasks import async_task

    duration = settings.CRIER_TICKER_SECONDS if duration is None else duration
    me = worker_id()
    tick = settings.CRIER_DISPATCH_TICK_SECONDS
    ttl = tick * 5 + 5
    # Wait for the lease rather than give up: its holder may have died, and then the
    # lease expires within ``ttl`` and this loop must take over (a dead holder never
    # enqueues its successor). A live holder renews it every tick, so after ``ttl`` it
    # is safe to leave: the holder chains its own successor.
    give_up = time.monotonic() + ttl + 2 * tick
    while not shutdown.shutting_down() and not _claim_lease(TICKER_LEASE, me, ttl):
        if time.monotonic() >= give_up:
            return "another ticker is running"
        shutdown.sleep(tick)
    if shutdown.shutting_down():  # before holding the lease: a worker of another cluster goes on
        async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")
        return "handed over: shutting down"
    ends = time.monotonic() + duration
    last_watchdog = last_lease = 0.0
    while time.monotonic() < ends and not shutdown.shutting_down():
        started = time.monotonic()
        until_due: float | None = None
        try:
            dispatcher_tick()
            if started - last_watchdog >= 10:
                dispatches_recover()
                last_watchdog = started
            until_due = seconds_to_next_due()
        except Exception:  # keep ticking: one bad campaign must not stop all sending
            logger.exception("dispatcher tick failed")
            close_old_connections()
        if started - last_lease >= tick:  # renewed once a tick, however often it wakes
            if not _claim_lease(TICKER_LEASE, me, ttl):
                return "lease lost"
            last_lease = started
        # Wake at the next tick, or at the next occurrence's due time if that is sooner:
        # an occurrence is claimed when it is due, not up to a tick later.
        pause = tick - (time.monotonic() - started)
        if until_due is not None:
            pause = min(pause, until_due + DUE_MARGIN)
        shutdown.sleep(max(MIN_PAUSE, pause))
    Lease.objects.filter(name=TICKER_LEASE, holder=me).update(expires_at=timezone.now())
    async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")
    return "handed over"
