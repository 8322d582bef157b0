"""The send loop's thread pool: daemon threads that run a chunk's calls as one group.

``ThreadPoolExecutor`` threads are not daemons, and Python joins them when a process
exits (``threading._shutdown``), so a worker whose cluster is stopping would still wait
for a request a slow provider answers in 30 s, past the 10 s a graceful stop has (issue
#19, docs/queue-and-http.md, *Stopping a cluster*). A request the send loop leaves in
flight at shutdown belongs to the watchdog (as after a crash), so nothing must wait for it:
these threads are daemons.

A chunk's calls are run as one :class:`Group`, not as a ``concurrent.futures.Future``
each: a future is a condition variable, set running, set done and waited on request by
request, and with ``concurrent.futures.wait`` polled every 60 ms over the whole chunk, that
was about 4 % of a sending worker's GIL time, taken from the sending threads
(BENCHMARKS.md, "Third session"). A group is one counter under one lock and one event.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any


class Group:
    """The calls of one :meth:`DaemonPool.run_all`: their results in order, and one event
    set when the last has returned."""

    def __init__(self, size: int) -> None:
        self._results: list[Any] = [None] * size
        self._errors: dict[int, BaseException] = {}
        self._left = size
        self._lock = threading.Lock()
        self._done = threading.Event()
        if size == 0:
            self._done.set()

    def _finish(self, index: int, value: Any, error: BaseException | None) -> None:
        if error is not None:
            self._errors[index] = error
        else:
            self._results[index] = value
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self._done.set()

    @property
    def left(self) -> int:
        """How many calls have not returned yet."""
        return self._left

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for every call; True when all have returned."""
        return self._done.wait(timeout)

    def results(self) -> list[Any]:
        """Every call's result, in the order given; raises the first call's exception, if any."""
        if not self._done.is_set():
            raise RuntimeError("the group's calls have not all returned")
        if self._errors:
            raise self._errors[min(self._errors)]
        return list(self._results)


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

    def run_all(self, fn: Callable[..., Any], calls: Sequence[tuple]) -> Group:
        """Run ``fn(*args)`` for each ``args`` of ``calls`` on the pool; return their :class:`Group`."""
        group = Group(len(calls))
        with self._lock:
            taken = min(self._idle, len(calls))  # idle threads take the first calls
            self._idle -= taken
            wanted = min(len(calls) - taken, self._size - len(self._threads))
            for _ in range(max(0, wanted)):
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            for index, args in enumerate(calls):
                self._work.put((group, index, fn, args))
        return group

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            group, index, fn, args = item
            try:
                value, error = fn(*args), None
            except BaseException as exc:  # handed to whoever reads the group's results
                value, error = None, exc
            group._finish(index, value, error)
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
