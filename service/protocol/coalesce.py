"""Messages to one company coalesced under load (group commit), as phase two already is.

A message to a company with no round in flight to it leaves at once, alone: at low load
nothing waits. One sent while a round is in flight queues; when that round's answer is back,
everything queued leaves together in the next round, one request for all of them, each item
still answered on its own. A round that takes long does not hold the queue back for more than
``max_wait``: the oldest message waiting that long leaves with whatever is queued, in a round
of its own. Each round is sent by one of the threads whose messages it carries, so there is
no sender thread and no timer.

Several processes of one company coalesce each their own messages: a round is one process's
and is answered before anything else of it is sent, so nothing is shared between them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Slot(Generic[Item, Result]):
    item: Item
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | BaseException | None = None
    lead: list[_Slot[Item, Result]] | None = None  # the round this slot's thread must send
    taken: bool = False  # in a round (sent or about to be)


@dataclass
class _Company(Generic[Item, Result]):
    rounds: int = 0  # rounds in flight
    queue: deque[_Slot[Item, Result]] = field(default_factory=deque)


class Coalescer(Generic[Item, Result]):
    def __init__(
        self,
        send: Callable[[str, list[Item]], Sequence[Result | BaseException]],
        max_round: int,
    ):
        """``send(company, items)``: one round, one result (or exception) per item, in
        order; an exception it raises is every item's. ``max_round``: items per round."""
        self._send = send
        self._max = max_round
        self._lock = threading.Lock()
        self._companies: dict[str, _Company[Item, Result]] = {}

    def queued(self, company: str) -> int:
        """Messages waiting for a round to ``company`` now."""
        with self._lock:
            state = self._companies.get(company)
            return 0 if state is None else len(state.queue)

    def call(self, company: str, item: Item, max_wait: float) -> Result:
        """Send ``item`` to ``company`` (alone, or with others queued with it) and return its
        result, or raise its exception."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self._lock:
            state = self._companies.setdefault(company, _Company())
            if state.rounds == 0:
                state.rounds = 1
                slot.taken = True
                slot.lead = [slot]
            else:
                state.queue.append(slot)
        if slot.lead is None and not slot.done.wait(max_wait):
            with self._lock:
                if not slot.taken:  # waited long enough: a round of its own, with the queue
                    state.queue.remove(slot)
                    state.queue.appendleft(slot)
                    slot.lead = self._take(state)
                    state.rounds += 1
        if slot.lead is None:
            slot.done.wait()  # answered, or handed a round to send
        if slot.lead is not None:
            self._round(company, state, slot.lead)
        if isinstance(slot.result, BaseException):
            raise slot.result
        return slot.result  # type: ignore[return-value]  # set by the round that carried it

    def _take(self, state: _Company[Item, Result]) -> list[_Slot[Item, Result]]:
        batch: list[_Slot[Item, Result]] = []
        while state.queue and len(batch) < self._max:
            slot = state.queue.popleft()
            slot.taken = True
            batch.append(slot)
        return batch

    def _round(
        self, company: str, state: _Company[Item, Result], batch: list[_Slot[Item, Result]]
    ) -> None:
        results: Sequence[Result | BaseException]
        try:
            results = self._send(company, [s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except BaseException as exc:  # noqa: BLE001 — each waiting thread raises it as its own
            results = [exc] * len(batch)
        with self._lock:  # the next round leaves before anyone is answered
            nxt = self._take(state)
            if nxt:
                nxt[0].lead = nxt
                nxt[0].done.set()
            else:
                state.rounds -= 1
        for slot, result in zip(batch, results, strict=True):
            if slot.lead is batch:
                slot.lead = None
            slot.result = result
            slot.done.set()
