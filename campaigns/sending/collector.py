"""Pause Python's cyclic garbage collector while a chunk is read (``read_chunk``).

Reading a chunk of 200 Jiguang requests decodes 200,000 ids and their routes and builds as
many targets: some 400,000 new container objects that all stay alive until the chunk is
sent. Each allocation burst of that size set off the collector's full collections again
and again, every one of them walking every live object, the chunk read so far included:
one read took 450–600 ms with the collector running and 145 ms with it paused, and was
most of the worker's CPU for each request sent (BENCHMARKS.md, "This round"). Nothing read
there is garbage in a cycle, so a pause loses nothing; the collector runs again as soon as
the read is done.

The collector is one switch for the whole process, and the send loop reads on one thread
while its sending threads allocate; so pauses are counted under a lock and the switch is
restored only when the last pause ends, to what it was before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (reference counting still frees
    everything else at once); nested and concurrent pauses end with the last of them."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def freeze_what_the_worker_started_with(**_kwargs) -> None:
    """Move every object a new worker process starts with into the collector's permanent
    generation (``gc.freeze``), after collecting what is garbage among them.

    Connected to django-q2's ``post_spawn`` (``CampaignsConfig.ready``), so it runs once in
    each worker process before its first task. A worker starts with Django, the apps and
    their imports: about a million tracked objects that live as long as the process. Every
    full collection walked them all, 90–115 ms each, eight times while a 1,000,000-id Jiguang
    dispatch was sent: a quarter of the worker's CPU, on the two cores the PostgreSQL backend
    planning that dispatch needs (BENCHMARKS.md, "Fifth session"). Frozen, they are never
    walked again; objects made afterwards are collected as before. Nothing frozen is
    garbage: the collection before the freeze frees every cycle that was. A frozen object
    that becomes part of a garbage cycle later stays until the process ends; what a worker
    starts with lives as long as it does, and django-q2 replaces a worker after 500 tasks.
    """
    gc.collect()
    gc.freeze()
