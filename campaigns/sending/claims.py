"""Who holds a running dispatch: the claim, its heartbeat and handing it back.

A dispatch is claimed with a compare-and-swap (``pending -> running`` with this worker's
id and a heartbeat) before anything is sent; a duplicated task finds it taken and does
nothing. The heartbeat is itself a compare-and-swap on ``claimed_by``: a worker whose
claim the watchdog gave away stops at once.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from campaigns.models import Dispatch, DispatchStatus
from campaigns.sending.transitions import dispatch_move


def worker_id() -> str:
    """Return an id for this process and thread, unique across hosts."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(dispatch_id: int, me: str, now: datetime) -> bool:
    """Take a pending dispatch for this worker; False when someone else has it (or it is done)."""
    moved = dispatch_move(
        dispatch_id, DispatchStatus.PENDING, DispatchStatus.RUNNING, claimed_by=me, heartbeat_at=now
    )
    return bool(moved)


def heartbeat(dispatch_id: int, me: str) -> bool:
    """Renew this worker's claim; False when it was taken away.

    The send loop beats before every chunk, so this is one fixed statement rather than an
    ORM query built each time (BENCHMARKS.md, "Third session"); like ``QuerySet.update``
    it writes ``heartbeat_at`` alone.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_heartbeat_sql(), [now, dispatch_id, DispatchStatus.RUNNING.value, me])
        return cursor.rowcount == 1


@functools.cache
def _heartbeat_sql() -> str:
    meta = Dispatch._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    return (
        f"UPDATE {quote(meta.db_table)} SET {column('heartbeat_at')} = %s "
        f"WHERE {quote(meta.pk.column)} = %s AND {column('status')} = %s AND {column('claimed_by')} = %s"
    )


def release(dispatch_id: int, me: str, detail: str = "") -> bool:
    """Hand a running dispatch back (running -> pending) so another task can continue it."""
    changes = {"claimed_by": "", "heartbeat_at": None}
    if detail:
        changes["detail"] = detail
    return bool(
        dispatch_move(
            dispatch_id, DispatchStatus.RUNNING, DispatchStatus.PENDING, where={"claimed_by": me}, **changes
        )
    )


class HeartbeatThread(threading.Thread):
    """Renew a dispatch claim every ``interval`` seconds while its send loop runs.

    A chunk can take longer than the watchdog's patience (a slow provider, a low rate
    limit), and a live worker must not look dead. Sets ``lost`` and calls ``on_lost`` when
    the claim was taken, so the requests of the chunk not yet issued stay unsent (the send
    loop passes its ``StopFlag.mark_lost``).
    """

    def __init__(
        self, dispatch_id: int, me: str, interval: float, on_lost: Callable[[], None] | None = None
    ) -> None:
        super().__init__(name=f"heartbeat-{dispatch_id}", daemon=True)
        self.dispatch_id = dispatch_id
        self.me = me
        self.interval = interval
        self.stopped = threading.Event()
        self.lost = False
        self.on_lost = on_lost

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                if not heartbeat(self.dispatch_id, self.me):
                    self.lost = True
                    if self.on_lost is not None:
                        self.on_lost()
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
