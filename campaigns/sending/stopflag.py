"""The emergency stop as the requests of one dispatch see it, right before each one leaves.

Issue #15 point 6: the stop was read once per chunk, so up to a chunk of requests (100 in
4.1 s at 25/s) reached the provider after the stop had answered. A :class:`StopFlag` is
consulted by each sending thread immediately before its request is issued (after the
rate-limit wait, where the time passes, and during it), and answers from a reading of
``SendSwitch`` at most ``max_age`` (250 ms) old. So within ``max_age`` of the stop being
committed no request leaves but those already on the wire (at most ``max_concurrency``).

Threads: while a send loop runs, a :class:`Refresher` thread reads the stop every
``max_age / 2`` on a database connection of its own (as the heartbeat does), so the
readings stay fresh while the loop's thread stores the previous chunk's answers; the
loop's thread also reads whenever it finds the reading due while it waits (a fallback).
A sending thread that finds the reading older than ``max_age`` waits for the next one
instead of sending on a stale answer. The cluster's shutdown
(``campaigns.sending.shutdown``) is in memory and halts at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from django.db import connection

from campaigns.sending import shutdown

logger = logging.getLogger(__name__)

# Issue #15 point 6: the stop is seen by every request within this many seconds.
MAX_AGE = 0.25


class Halt(StrEnum):
    """Why requests stopped leaving."""

    STOP = "stop"  # the emergency stop (SendSwitch), from any process
    SHUTDOWN = "shutdown"  # this worker's qcluster received SIGTERM
    CLOSED = "closed"  # the send loop ended (an error): send nothing more
    LOST = "lost"  # the heartbeat found the claim taken: the dispatch is another worker's now
    EXPIRED = "expired"  # the occurrence's expiry passed: what has not left stays unsent (expired)


class StopFlag:
    """Whether requests may still leave: a cached reading of ``read()`` at most ``max_age`` old.

    ``read`` returns True while sending is stopped (``operations.sending_stopped``);
    ``clock`` is monotonic seconds. The age of a reading is counted from when the read
    *started*, so a stop committed before that moment is always in it.
    """

    def __init__(
        self,
        read: Callable[[], bool],
        *,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        in_shutdown: Callable[[], bool] = shutdown.shutting_down,
    ) -> None:
        self._read = read
        self.max_age = max_age
        self._clock = clock
        self._in_shutdown = in_shutdown
        self._changed = threading.Condition()
        self._stopped = False
        self._read_at: float | None = None  # clock() when the cached reading started
        self._closed = False
        self._lost = False
        self._expires_at: float | None = None  # clock() after which no request may leave
        self.reads = 0

    # --- the loop's thread ----------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the stop now (the loop's thread: it owns the database connection); return it."""
        started = self._clock()
        stopped = bool(self._read())
        with self._changed:
            self._stopped = stopped
            self._read_at = started
            self.reads += 1
            self._changed.notify_all()
        return stopped

    def refresh_if_due(self, after: float | None = None) -> None:
        """Read again once the reading is ``after`` seconds old (default: half its allowed age)."""
        with self._changed:
            read_at = self._read_at
        due = self.max_age / 2 if after is None else after
        if read_at is None or self._clock() - read_at >= due:
            self.refresh()

    def close(self) -> None:
        """The loop is ending: every later :meth:`halted` is True and nobody waits any more."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def expire_at(self, deadline: float | None) -> None:
        """No request may leave once ``clock()`` reaches ``deadline`` (the occurrence's expiry):
        a request marked in flight before it but still waiting for its rate-limit token is not
        issued after it (the loop then records it expired)."""
        with self._changed:
            self._expires_at = deadline
            self._changed.notify_all()

    def mark_lost(self) -> None:
        """The claim was taken (the heartbeat thread says so): no request of ours may leave."""
        with self._changed:
            self._lost = True
            self._changed.notify_all()

    # --- any sending thread ----------------------------------------------------------------

    def halted(self, *, poll: float = 0.05) -> Halt | None:
        """Why no request may leave now, or None when one may: called right before each request.

        Answers from a reading at most ``max_age`` old; when the last one is older, waits
        for the loop's next reading (checking the shutdown every ``poll`` seconds).
        """
        with self._changed:
            while True:
                if self._closed:
                    return Halt.CLOSED
                if self._lost:
                    return Halt.LOST
                if self._expires_at is not None and self._clock() >= self._expires_at:
                    return Halt.EXPIRED
                if self._in_shutdown():
                    return Halt.SHUTDOWN
                if self._stopped:
                    return Halt.STOP
                if self._read_at is not None and self._clock() - self._read_at <= self.max_age:
                    return None
                self._changed.wait(poll)

    def sleep(self, seconds: float, *, slice_: float = 0.05) -> Halt | None:
        """Sleep ``seconds`` (a rate-limit wait) in short slices; return early with the halt if any."""
        end = self._clock() + seconds
        while True:
            halt = self.halted()
            if halt is not None:
                return halt
            left = end - self._clock()
            if left <= 0:
                return None
            time.sleep(min(left, slice_))


class Refresher(threading.Thread):
    """Read ``flag`` every ``max_age / 2`` while a send loop runs, on a connection of its own
    (one thread and one connection for the whole loop, not one a chunk)."""

    def __init__(self, flag: StopFlag, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.flag = flag
        self.stopped = threading.Event()

    def run(self) -> None:
        # The loop has just read the flag before the chunk (``SendLoop._check``), so the first
        # reading here is due half an age later: a chunk answered sooner opens no connection
        # at all. Reading at once opened (and closed) a database connection per chunk — a
        # new server process on PostgreSQL — the largest cost of a one-request dispatch
        # after the send itself (BENCHMARKS.md, "This round").
        try:
            while not self.stopped.wait(self.flag.max_age / 2):
                try:
                    self.flag.refresh()
                except Exception:  # the database blinked: requests wait for a reading, none leaves blind
                    logger.exception("reading the emergency stop failed")
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
