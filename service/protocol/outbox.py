"""Phase two after the answer, coalesced: decided transactions wait here for their messages.

Once a decision is logged the outcome is fixed, so the client is answered at once and the
commits (or aborts) go out from here. Each company has its own queue and at most one round in
flight to it: whatever is decided while a round is in flight leaves together in the next one,
one message for all of them (``POST /decisions``). Under load a federated booking thus costs
its prepares plus a share of one phase-two message per company; alone, its phase two leaves at
once. Nothing waits on a timer, and a slow or frozen company delays only its own messages.

A transaction's acknowledgements are logged when its last round is back, together with those
of every other transaction whose last round that was, in one database transaction: a booking
at three companies logs its two peers' acknowledgements in one write, not one per company.
A round back before the transaction's others leaves its acknowledgements waiting for them
(at most a round's timeout): nothing depends on them but the log's closing, which ``settle``
waits for anyway.

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


Change = Callable[[BookingTx], object]


class Outbox:
    def __init__(
        self,
        send: Callable[[Context, str, list[Item]], dict[str, Change]],
        log_acks: Callable[[Context, dict[str, list[Change]]], None],
    ):
        """``send(ctx, company, items)``: delivers one round to one company and returns what
        it acknowledged, a change per transaction; ``log_acks(ctx, changes)`` logs several
        transactions' changes in one database transaction (the coordinator's phase two)."""
        self._send = send
        self._log_acks = log_acks
        self._queues: dict[str, list[Item]] = {}
        self._running: set[str] = set()
        self._waiting: dict[str, int] = {}  # tx_id -> its items queued or in an unlogged round
        self._unsent: dict[str, int] = {}  # tx_id -> its items queued or in a round not back
        self._acks: dict[str, list[Change]] = {}  # tx_id -> its changes waiting to be logged
        self._back: list[Item] = []  # items whose round is back and whose tx is not logged yet
        self.log_writes = 0  # database transactions that logged acknowledgements
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
                    self._unsent[tx.tx_id] = self._unsent.get(tx.tx_id, 0) + 1
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
            changes: dict[str, Change] = {}
            try:
                ctx.faults.hit("outbox_round", company)  # tests: rounds queue up behind it
                changes = self._send(ctx, company, batch)
            except Exception:  # recovery sends it again
                log.exception("phase two of %d transaction(s) to %s failed", len(batch), company)
            finally:
                self._back_from(ctx, batch, changes)

    def _back_from(self, ctx, batch: list[Item], changes: dict[str, Change]) -> None:
        """A round is back: log the acknowledgements of every transaction it was the last
        round of (with what earlier rounds brought for them), then let them go."""
        with self._cond:
            for tx, _ in batch:
                self._unsent[tx.tx_id] = self._unsent.get(tx.tx_id, 0) - 1
            for tx_id, change in changes.items():
                self._acks.setdefault(tx_id, []).append(change)
            self._back.extend(batch)
            ready = [item for item in self._back if not self._unsent.get(item[0].tx_id)]
            if not ready:
                return
            self._back = [item for item in self._back if self._unsent.get(item[0].tx_id)]
            ready_ids = {tx.tx_id for tx, _ in ready}
            for tx_id in ready_ids:
                self._unsent.pop(tx_id, None)
            acks = {t: self._acks.pop(t) for t in ready_ids if t in self._acks}
        try:
            if acks:
                self._log_acks(ctx, acks)
                with self._cond:
                    self.log_writes += 1
        except Exception:  # recovery sends them again
            log.exception("acknowledgements of %d transaction(s) not logged", len(acks))
        finally:
            self._done(ctx, ready)

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
        self._back_from(ctx, batch, {})  # not sent: recovery's, once what came back is logged
