"""The send loop's daemon thread pool (campaigns/sending/pool.py): threads start when work
needs them, never more than its size, and every call runs."""

from __future__ import annotations

import threading
from concurrent.futures import wait

from campaigns.sending.pool import DaemonPool


def test_one_request_starts_one_thread_and_later_ones_reuse_it():
    pool = DaemonPool(10, name="t")
    try:
        for n in range(5):
            assert pool.submit(lambda n=n: n * 2).result(timeout=5) == n * 2
        assert len(pool._threads) == 1
    finally:
        pool.shutdown()


def test_calls_run_concurrently_up_to_the_size_and_no_further():
    pool = DaemonPool(10, name="t")
    barrier = threading.Barrier(10, timeout=5)  # passes only when ten calls run at once
    running, peak, lock = [0], [0], threading.Lock()

    def call() -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return barrier.wait()
        finally:
            with lock:
                running[0] -= 1

    try:
        futures = [pool.submit(call) for _ in range(10)]
        done, _ = wait(futures, timeout=10)
        assert len(done) == 10 and all(f.exception() is None for f in futures)
        futures = [pool.submit(lambda: threading.current_thread().name) for _ in range(25)]
        assert all(f.result(timeout=5) for f in futures)
        assert len(pool._threads) == 10 and peak[0] == 10
    finally:
        pool.shutdown()


def test_an_exception_reaches_the_future_and_the_thread_goes_on():
    pool = DaemonPool(1, name="t")

    def boom():
        raise ValueError("refused")

    try:
        failed = pool.submit(boom)
        assert isinstance(failed.exception(timeout=5), ValueError)
        assert pool.submit(lambda: "next").result(timeout=5) == "next"
    finally:
        pool.shutdown()
    assert not any(thread.is_alive() for thread in pool._threads)
