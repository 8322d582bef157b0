"""The send loop's thread pool: ``concurrent.futures`` semantics on daemon threads.

``ThreadPoolExecutor`` threads are not daemons, and Python joins them when a process
exits (``threading._shutdown``), so a worker whose cluster is stopping would still wait
for a request a slow provider answers in 30 s, past the 10 s a graceful stop has (issue
#19, docs/queue-and-http.md, *Stopping a cluster*). A request the send loop leaves in
flight at shutdown belongs to the watchdog (as after a crash), so nothing must wait for it:
these threads are daemons. Calls return ordinary :class:`concurrent.futures.Future`
objects, so ``concurrent.futures.wait`` works on them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonPool:
    """Up to ``size`` daemon threads running submitted calls in order; :meth:`shutdown` ends them."""

    def __init__(self, size: int, name: str) -> None:
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._size = max(1, size)
        self._name = name
        self._threads: list[threading.Thread] = []
        # Threads are started when work needs them, not up front: most dispatches of a busy
        # schedule are one request, and starting ten threads for it was most of what its
        # pool cost (BENCHMARKS.md, "lateness at volume").
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # taken by this call: the next submit may need a thread of its own
            elif len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._work.put((future, fn, args))
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1

    def shutdown(self, *, wait: bool = True) -> None:
        """Run what was submitted, then end the threads; ``wait`` joins them."""
        with self._lock:
            threads = list(self._threads)
            self._size = 0  # no new thread after shutdown
        for _thread in threads:
            self._work.put(None)
        if wait:
            for thread in threads:
                thread.join()
