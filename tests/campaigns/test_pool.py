"""The send loop's daemon thread pool (campaigns/sending/pool.py): threads start when work
needs them, never more than its size, every call of a group runs, and the group's results
come back in the order the calls were given."""

from __future__ import annotations

import threading
import time

import pytest

from campaigns.sending.pool import DaemonPool, Group


def test_one_request_starts_one_thread_and_later_ones_reuse_it():
    pool = DaemonPool(10, name="t")
    try:
        for n in range(5):
            group = pool.run_all(lambda n: n * 2, [(n,)])
            assert group.wait(5) and group.results() == [n * 2]
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
        group = pool.run_all(call, [()] * 10)
        assert group.wait(10) and sorted(group.results()) == list(range(10))
        group = pool.run_all(lambda: threading.current_thread().name, [()] * 25)
        assert group.wait(10) and all(group.results())
        assert len(pool._threads) == 10 and peak[0] == 10
    finally:
        pool.shutdown()


def test_results_keep_the_order_of_the_calls_whatever_order_they_finish_in():
    pool = DaemonPool(4, name="t")
    try:
        # The first calls sleep longest, so they finish last.
        group = pool.run_all(lambda i: time.sleep((8 - i) * 0.01) or i, [(i,) for i in range(8)])
        assert not group.wait(0) and group.left > 0
        assert group.wait(10) and group.left == 0
        assert group.results() == list(range(8))
    finally:
        pool.shutdown()


def test_an_exception_reaches_the_results_and_the_thread_goes_on():
    pool = DaemonPool(1, name="t")

    def maybe(n: int) -> int:
        if n == 1:
            raise ValueError("refused")
        return n

    try:
        failed = pool.run_all(maybe, [(0,), (1,), (2,)])
        assert failed.wait(5)
        with pytest.raises(ValueError, match="refused"):
            failed.results()
        after = pool.run_all(lambda: "next", [()])
        assert after.wait(5) and after.results() == ["next"]
    finally:
        pool.shutdown()
    assert not any(thread.is_alive() for thread in pool._threads)


def test_an_empty_group_is_done_at_once_and_results_are_not_read_before_the_end():
    assert Group(0).wait(0) and Group(0).results() == []
    with pytest.raises(RuntimeError):
        Group(1).results()
