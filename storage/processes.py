"""The server processes of one company on its database, and the leases on its transactions.

A company may run several processes on one database (behind a load balancer). Each process
registers itself at start and beats while it lives; each coordinator transaction names the
process working on it (``lease_owner``) and until when (``lease_until``), renewed by that
process's beat while a request or its phase two still works on it. Recovery, in whichever
process runs it, takes over only a transaction whose lease ran out or whose process is dead —
stopped beating, or superseded by a newer start of the same replica (a restart) — and takes it
with one conditional update, so two processes never both take it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from booking.model import utcnow
from storage import models as m
from storage.coordinator_log import lock_txs
from storage.repository import Repository

#: processes not heard of for this long are forgotten (their rows, not their work)
FORGET_AFTER = timedelta(days=1)


class ProcessRepository(Repository):
    process_id: str | None = None  # this process, once registered
    lease: timedelta = timedelta(seconds=15)

    def register_process(self, process_id: str, replica: str, lease: timedelta) -> None:
        """This process, from now on the owner of the transactions it starts."""
        now = utcnow()
        with self.transaction():
            m.ServerProcess.delete().where(m.ServerProcess.seen_at < now - FORGET_AFTER).execute()
            m.ServerProcess.insert(
                id=process_id, replica=replica, started_at=now, seen_at=now
            ).execute()
        self.process_id, self.lease = process_id, lease

    def beat(self, live_tx_ids: Iterable[str]) -> None:
        """This process is alive, and still works on ``live_tx_ids``: their leases go on.

        Their rows are locked in id order first, as every other writer of several of them
        locks them (``coordinator_log.lock_txs``, phase two's acknowledgements): an update of
        them all at once would lock them in the order the table is scanned, and meet a phase
        two going the other way in a deadlock — one of the two failed after PostgreSQL's
        deadlock timeout, and a booking deciding meanwhile waited that second on its row."""
        if self.process_id is None:
            return
        now, live = utcnow(), sorted(set(live_tx_ids))
        t = m.CoordinatorTx
        with self.transaction():
            m.ServerProcess.update(seen_at=now).where(
                m.ServerProcess.id == self.process_id
            ).execute()
            if not live:
                return
            ids = [r.tx_id for r in lock_txs(self.db, live) if r.lease_owner == self.process_id]
            if ids:
                t.update(lease_until=now + self.lease).where(t.tx_id.in_(ids)).execute()

    def dead_processes(self, silent_for: timedelta) -> set[str]:
        """Processes that stopped beating ``silent_for`` ago, or were restarted since."""
        rows = list(m.ServerProcess.select())
        newest: dict[str, datetime] = {}
        for row in rows:
            newest[row.replica] = max(newest.get(row.replica, row.started_at), row.started_at)
        cutoff = utcnow() - silent_for
        return {
            row.id for row in rows if row.seen_at < cutoff or row.started_at < newest[row.replica]
        }

    def lease_stamp(self) -> dict:
        """The columns that make this process the owner of a transaction (a new one, or one
        a request of this process takes up again)."""
        if self.process_id is None:
            return {}
        return {"lease_owner": self.process_id, "lease_until": utcnow() + self.lease}

    def take_tx(self, tx_id: str) -> None:
        """A request of this process works on ``tx_id`` now (a replacement, a cancellation)."""
        stamp = self.lease_stamp()
        if stamp:
            m.CoordinatorTx.update(**stamp).where(m.CoordinatorTx.tx_id == tx_id).execute()

    def claim_tx(self, tx_id: str, dead: set[str]) -> bool:
        """Take over ``tx_id`` if its lease ran out or its owner is in ``dead`` (and only
        then): True when this process owns it now. One conditional update, so of two
        processes claiming at once exactly one wins."""
        stamp = self.lease_stamp()
        if not stamp:
            return True
        tx = m.CoordinatorTx
        free = tx.lease_owner.is_null(True) | (tx.lease_until < utcnow())
        if dead:
            free |= tx.lease_owner.in_(list(dead))
        return tx.update(**stamp).where(tx.tx_id == tx_id, free).execute() == 1
