"""One station's MQTT messages are applied in the order the broker delivered them.

Before, every message went to the bridge's pool on its own: a station's retained "available"
and its Last Will "offline", arriving together, could be applied the other way round, leaving
a dead station available (seen by the console's browser test under load)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from mqtt.bridge import InOrder


def test_one_keys_tasks_run_in_order_while_other_keys_go_on():
    pool = ThreadPoolExecutor(max_workers=4)
    runner = InOrder(pool)
    first_started, release_first = threading.Event(), threading.Event()
    other_ran = threading.Event()
    done: list[str] = []
    second_done = threading.Event()

    def first():
        first_started.set()
        assert release_first.wait(10)
        done.append("available")

    def second():
        done.append("offline")
        second_done.set()

    runner.submit("a-natal-1", first)
    assert first_started.wait(10)
    runner.submit("a-natal-1", second)  # queued behind the first, not on a free worker
    runner.submit("a-recife-1", other_ran.set)
    assert other_ran.wait(10)  # another station is not held up
    assert done == []  # the second of a-natal-1 waits for the first
    release_first.set()
    assert second_done.wait(10)
    assert done == ["available", "offline"]
    pool.shutdown(wait=True)


def test_a_failing_task_does_not_stall_the_ones_behind_it():
    pool = ThreadPoolExecutor(max_workers=2)
    runner = InOrder(pool)
    gate = threading.Event()
    ran = threading.Event()

    def boom():
        assert gate.wait(10)
        raise RuntimeError("a bad message")

    runner.submit("s", boom)
    runner.submit("s", ran.set)
    gate.set()
    assert ran.wait(10)
    pool.shutdown(wait=True)
    assert runner._queues == {}  # nothing left behind once drained
