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
    """``size`` daemon threads running submitted calls in order; :meth:`shutdown` ends them."""

    def __init__(self, size: int, name: str) -> None:
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}_{i}", daemon=True) for i in range(max(1, size))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._work.put((future, fn, args))
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, *, wait: bool = True) -> None:
        """Run what was submitted, then end the threads; ``wait`` joins them."""
        for _thread in self._threads:
            self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
