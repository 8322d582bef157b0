"""Whether the ``qcluster`` this worker belongs to is shutting down (SIGTERM).

django-q2 (1.11.1, docs/queue-and-http.md, *Stopping a cluster*) handles SIGTERM in the
main ``qcluster`` process only: its handler sets the cluster's stop event, a
``multiprocessing.Event`` the sentinel process holds, and the sentinel then stops the
pusher and waits for every worker to finish the task it runs and the tasks already in
its in-memory queue. No signal reaches a worker, and a task is not told. A dispatch task
of up to ``CRIER_DISPATCH_TASK_BUDGET`` seconds (and a ticker loop of
``CRIER_TICKER_SECONDS``) made a graceful stop last 25–35 s, longer than the 10 s that
``docker stop`` and most orchestrators give before SIGKILL.

So a worker reads that same stop event. Workers are forked from the sentinel
(django-q2 forces the ``fork`` start method), and a forked child keeps its parent's call
stack below its own: the worker's main thread still holds the frame of the sentinel's
``spawn_process`` (or ``reincarnate``) with the ``Sentinel`` as ``self``, whose
``stop_event`` is shared memory, set by the main process. :func:`stop_event` finds it
once per process. Outside a cluster worker (tests, ``manage.py shell``) there is none,
and :func:`shutting_down` is always False. If a django-q2 release renames these, no
event is found and a stop is slow again, not unsafe; tests/campaigns/test_shutdown_integration.py
measures it.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

_UNSET: Any = object()
_event: Any = _UNSET


def _find_stop_event() -> Any:
    """The stop event of the django-q2 sentinel that forked this process, or None."""
    try:
        from django_q.cluster import Sentinel
    except ImportError:  # pragma: no cover - django-q2 is a dependency
        return None
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Sentinel):
            return getattr(owner, "stop_event", None)
        frame = frame.f_back
    return None


def stop_event() -> Any:
    """This process's cluster stop event (looked up once), or None outside a cluster worker."""
    global _event
    if _event is _UNSET:
        _event = _find_stop_event()
    return _event


def use_event(event: Any) -> None:
    """Use ``event`` (anything with ``is_set()`` and ``wait(timeout)``) as the shutdown signal.

    For tests of code that must notice a shutdown without a real cluster; ``None`` means
    "not in a cluster", and :data:`_UNSET` looks the event up again.
    """
    global _event
    _event = event


def shutting_down() -> bool:
    """True once this worker's cluster was told to stop (SIGTERM to ``qcluster``)."""
    event = stop_event()
    return event is not None and event.is_set()


def sleep(seconds: float) -> bool:
    """Sleep up to ``seconds``, waking at once on shutdown; return True on shutdown."""
    event = stop_event()
    if event is None:
        time.sleep(max(0.0, seconds))
        return False
    return bool(event.wait(max(0.0, seconds)))
