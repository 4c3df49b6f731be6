"""Phase two after the answer, coalesced: decided transactions wait here for their messages.

Once a decision is logged the outcome is fixed, so the client is answered at once and the
commits (or aborts) go out from here. Each company has its own queue and at most one round in
flight to it: whatever is decided while a round is in flight leaves together in the next one,
one message for all of them (``POST /decisions``), and their acknowledgements are logged in one
database transaction. Under load a federated booking thus costs its prepares plus a share of
one phase-two message per company; alone, its phase two leaves at once. Nothing waits on a
timer, and a slow or frozen company delays only its own messages.

A transaction stays in ``ctx.live`` from submission until every round carrying it is logged,
so recovery keeps off it; whatever a round could not deliver (a peer down, silent) is left
unacknowledged in the log, and recovery sends it again, as it does after a crash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from booking.transaction import BookingTx

if TYPE_CHECKING:
    from service.company.context import Context

log = logging.getLogger(__name__)

MAX_ROUND = 100  # decisions per message (the contract's limit)

Item = tuple[BookingTx, str]  # a transaction and the message its company is owed


class Outbox:
    def __init__(self, send: Callable[[Context, str, list[Item]], None]):
        """``send(ctx, company, items)``: delivers one round to one company and logs what
        it acknowledged (the coordinator's phase two)."""
        self._send = send
        self._queues: dict[str, list[Item]] = {}
        self._running: set[str] = set()
        self._waiting: dict[str, int] = {}  # tx_id -> its items queued or in an unlogged round
        self._cond = threading.Condition()

    def submit(self, ctx, tx: BookingTx) -> None:
        """Queue every message ``tx`` still owes, from the peer pool (the caller goes on to
        answer its client)."""
        self._enter(ctx, tx)
        try:
            ctx.pool.submit(self._queue_all, ctx, tx)
        except RuntimeError:  # the pool is shut down (stopping): recovery's job now
            self._done(ctx, [(tx, "")])

    def _queue_all(self, ctx, tx: BookingTx) -> None:
        start = []
        try:
            ctx.faults.hit("phase_two", tx.car_id)
            with self._cond:
                for company, message in tx.pending_messages().items():
                    self._enter(ctx, tx)
                    self._queues.setdefault(company, []).append((tx, message))
                    if company not in self._running:
                        self._running.add(company)
                        start.append(company)
        finally:
            self._done(ctx, [(tx, "")])
        for company in start:
            try:
                ctx.pool.submit(self._drain, ctx, company)
            except RuntimeError:
                self._abandon(ctx, company)

    def _enter(self, ctx, tx: BookingTx) -> None:
        ctx.live.enter(tx.tx_id)
        with self._cond:
            self._waiting[tx.tx_id] = self._waiting.get(tx.tx_id, 0) + 1

    def settle(self, tx_id: str, timeout: float) -> bool:
        """Wait until ``tx_id``'s queued messages have been sent and logged (a cancellation
        must not overtake its own commit). False if that took longer than ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: tx_id not in self._waiting, timeout)

    def _drain(self, ctx, company: str) -> None:
        while True:
            with self._cond:
                queue = self._queues.get(company, [])
                batch, self._queues[company] = queue[:MAX_ROUND], queue[MAX_ROUND:]
                if not batch:
                    self._running.discard(company)
                    return
            try:
                ctx.faults.hit("outbox_round", company)  # tests: rounds queue up behind it
                self._send(ctx, company, batch)
            except Exception:  # recovery sends it again
                log.exception("phase two of %d transaction(s) to %s failed", len(batch), company)
            finally:
                self._done(ctx, batch)

    def _done(self, ctx, batch: list[Item]) -> None:
        with self._cond:
            for tx, _ in batch:
                left = self._waiting.get(tx.tx_id, 1) - 1
                if left > 0:
                    self._waiting[tx.tx_id] = left
                else:
                    self._waiting.pop(tx.tx_id, None)
            self._cond.notify_all()
        for tx, _ in batch:
            ctx.live.leave(tx.tx_id)

    def _abandon(self, ctx, company: str) -> None:
        with self._cond:
            batch = self._queues.pop(company, [])
            self._running.discard(company)
        self._done(ctx, batch)
