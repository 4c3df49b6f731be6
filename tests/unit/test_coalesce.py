"""Messages to one company coalesced under load: alone at once, queued behind a round in
flight, then together in one round; each item answered on its own; a round held up too long
does not hold the queue back. Threads and events only: no timing decides an assertion but
the one bound under test (``max_wait``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.protocol.coalesce import Coalescer

WAIT = 30.0  # long enough never to be reached unless a test means it to


class Peer:
    """A company answering rounds: each item is answered ``item * 10``, an item ``"bad"`` is
    answered with its own error; a round waits while ``gate`` is closed."""

    def __init__(self):
        self.rounds: list[list] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def send(self, company, items):
        self.rounds.append(list(items))
        self.entered.set()
        assert self.gate.wait(WAIT)
        return [ValueError(f"{company} refused {i}") if i == "bad" else i * 10 for i in items]


def _until(check):
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_alone_a_message_leaves_at_once_in_a_round_of_its_own():
    peer = Peer()
    c = Coalescer(peer.send, max_round=8)
    assert c.call("b", 1, WAIT) == 10
    assert c.call("b", 2, WAIT) == 20
    assert peer.rounds == [[1], [2]]


def test_queued_behind_a_round_they_leave_together_each_answered_on_its_own():
    peer = Peer()
    c = Coalescer(peer.send, max_round=8)
    peer.gate.clear()
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(c.call, "b", 1, WAIT)
        assert peer.entered.wait(WAIT)
        later = [pool.submit(c.call, "b", i, WAIT) for i in (2, "bad", 4)]
        _until(lambda: c.queued("b") == 3)
        other = pool.submit(c.call, "c", 5, WAIT)  # another company is not queued behind b
        _until(lambda: len(peer.rounds) == 2)
        assert peer.rounds[1] == [5]
        peer.gate.set()
        assert first.result(WAIT) == 10 and other.result(WAIT) == 50
        assert later[0].result(WAIT) == 20 and later[2].result(WAIT) == 40
        with pytest.raises(ValueError, match="b refused bad"):
            later[1].result(WAIT)
    assert sorted(map(str, peer.rounds[2])) == ["2", "4", "bad"]
    assert len(peer.rounds) == 3 and c.queued("b") == 0


def test_a_round_that_fails_fails_each_of_its_messages_and_the_next_still_leaves():
    calls = []

    def send(company, items):
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("the peer hung up")
        return [i for i in items]

    c = Coalescer(send, max_round=8)
    with pytest.raises(ConnectionError):
        c.call("b", 1, WAIT)
    assert c.call("b", 2, WAIT) == 2


def test_rounds_carry_at_most_max_round_messages():
    peer = Peer()
    c = Coalescer(peer.send, max_round=2)
    peer.gate.clear()
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(c.call, "b", 0, WAIT)
        assert peer.entered.wait(WAIT)
        later = [pool.submit(c.call, "b", i, WAIT) for i in range(1, 6)]
        _until(lambda: c.queued("b") == 5)
        peer.gate.set()
        assert [f.result(WAIT) for f in [first, *later]] == [0, 10, 20, 30, 40, 50]
    assert [len(r) for r in peer.rounds] == [1, 2, 2, 1]


def test_a_round_held_up_holds_the_queue_back_no_longer_than_max_wait():
    peer = Peer()
    peer.gate.clear()
    held = threading.Event()

    def send(company, items):
        if items == [1]:  # the first round: held until the test lets it go
            held.set()
            assert peer.gate.wait(WAIT)
        peer.rounds.append(list(items))
        return [i * 10 for i in items]

    c = Coalescer(send, max_round=8)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(c.call, "b", 1, WAIT)
        assert held.wait(WAIT)
        started = time.monotonic()
        waited = pool.submit(c.call, "b", 2, 0.2)
        assert waited.result(WAIT) == 20  # left in a round of its own after 0.2 s
        assert time.monotonic() - started >= 0.2
        assert not first.done()
        peer.gate.set()
        assert first.result(WAIT) == 10
    assert peer.rounds == [[2], [1]]
