"""Rate limits of a provider account: a token bucket per running dispatch, and the
account's rate shared among its dispatches running on every worker."""

from __future__ import annotations

import logging
import threading
import time

from django.db import connection

from campaigns.models import Dispatch, DispatchStatus
from campaigns.sending.stopflag import Halt, StopFlag

logger = logging.getLogger(__name__)


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def set_rate(self, rate: float, burst: float) -> None:
        """Change the rate (and the most saved up) from now on; tokens saved are kept."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.tokens + (now - self.updated) * self.rate, max(1.0, burst))
            self.updated = now
            self.rate = rate
            self.capacity = max(1.0, burst)

    def take(self, stop: StopFlag | None = None) -> Halt | None:
        """Block until a token is available, then take it; return None.

        With ``stop``, the wait (which can be seconds at a low rate) is slept in short
        slices that consult it: when sending halts meanwhile, return why, without a token.
        """
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return None
                wait = (1 - self.tokens) / self.rate
            if stop is None:
                time.sleep(wait)
                continue
            halt = stop.sleep(wait)
            if halt is not None:
                return halt


def _running_on_account(account_id: int) -> int:
    """How many dispatches of this provider account are running now (on any worker)."""
    running = Dispatch.objects.filter(status=DispatchStatus.RUNNING, campaign__provider_account_id=account_id)
    return max(1, running.count())


class RateShare:
    """The account's rate limit shared among its running dispatches, on every worker.

    Each running dispatch sends at ``rate_limit / n`` requests per second, where ``n`` is
    the number of the account's dispatches running now, read from the database before
    the first request and then every ``interval`` seconds by a thread of its own while
    the dispatch sends. So two campaigns of one account, on two machines, together stay
    within the account's limit; for up to ``interval`` after one starts, the others still
    send at their previous share.
    """

    def __init__(self, account, bucket: TokenBucket, concurrency: int, interval: float = 1.0) -> None:
        self.account = account
        self.bucket = bucket
        self.concurrency = concurrency
        self.interval = interval
        self.share = 0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        share = _running_on_account(self.account.pk)
        if share != self.share:
            self.share = share
            rate = self.account.rate_limit / share
            self.bucket.set_rate(rate, burst=min(rate, self.concurrency))

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    self.refresh()
                except Exception:  # the database blinked: keep the current share
                    logger.exception("refreshing the rate share of account %s failed", self.account.pk)
        finally:
            connection.close()

    def __enter__(self) -> RateShare:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name=f"rate-share-{self.account.pk}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
