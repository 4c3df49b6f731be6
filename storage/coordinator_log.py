"""The coordinator's durable log of booking transactions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import peewee

from booking.errors import Conflict
from booking.model import Window, utcnow
from booking.transaction import BookingTx, LegState, Mode, TxLeg, TxState
from storage import models as m
from storage.repository import Repository
from storage.statements import Slot, Statement, one_by, slots

T = m.CoordinatorTx
_FIELDS = list(T._meta.sorted_fields)


def _locked(sqlite: bool, count: int) -> peewee.Node:
    q = T.select().where(T.tx_id.in_(slots("tx_ids", count))).order_by(T.tx_id)
    return q if sqlite else q.for_update()


def _update(sqlite: bool, names: tuple[str, ...]) -> peewee.Node:
    """The row of ``where`` with these columns set."""
    columns = [getattr(T, name) for name in names]
    return T.update({c: Slot(c.name, field=c) for c in columns}).where(T.tx_id == Slot("where"))


_ADD = Statement(lambda sqlite: T.insert({f: Slot(f.name, field=f) for f in _FIELDS}))
_GET = Statement(lambda sqlite: one_by(T.tx_id, sqlite))
_LOCK = Statement(lambda sqlite: one_by(T.tx_id, sqlite, lock=True))
_LOCK_MANY = Statement(_locked)
_UPDATE = Statement(_update)


def lock_txs(db: peewee.Database, tx_ids: list[str]) -> list:
    """The logged transactions among ``tx_ids``, their rows locked for the rest of the
    transaction in id order: the one order every writer of several of them takes (phase
    two's acknowledgements, a process's beat), so two of them never deadlock."""
    return list(_LOCK_MANY.rows(db, (len(tx_ids),), tx_ids=tx_ids))


class CoordinatorLog(Repository):
    def add_tx(self, tx: BookingTx) -> None:
        """Write a new transaction; ``Conflict`` if its idempotency key is taken already."""
        try:
            with self.db.atomic():
                # the process that logs it works on it: its lease (storage/processes.py)
                row: dict[str, Any] = {f.name: None for f in _FIELDS}
                row.update(_tx_row(tx), **self.lease_stamp(), created_at=tx.created_at)
                _ADD.execute(self.db, (), **row)
        except peewee.IntegrityError as exc:
            raise Conflict("a booking with this Idempotency-Key or id exists already") from exc

    def get_tx(self, tx_id: str) -> BookingTx | None:
        row = _GET.first(self.db, tx_id=tx_id)
        return _tx(row) if row else None

    def get_tx_by_booking(self, booking_id: str) -> BookingTx | None:
        row = m.CoordinatorTx.get_or_none(m.CoordinatorTx.booking_id == booking_id)
        return _tx(row) if row else None

    def list_txs(self, owner: str | None, limit: int, offset: int) -> tuple[list[BookingTx], int]:
        """A page of the bookings coordinated here, newest first, with how many there are:
        those ``owner`` made, or every one (``None``)."""
        t = m.CoordinatorTx
        q = t.select() if owner is None else t.select().where(t.owner == owner)
        rows = q.order_by(t.created_at.desc(), t.tx_id).limit(limit).offset(offset)
        return [_tx(r) for r in rows], q.count()

    def get_txs(self, tx_ids: list[str]) -> list[BookingTx]:
        """These transactions, in no particular order (one query)."""
        if not tx_ids:
            return []
        return [_tx(r) for r in m.CoordinatorTx.select().where(m.CoordinatorTx.tx_id.in_(tx_ids))]

    def get_tx_by_key(self, key: str) -> BookingTx | None:
        row = m.CoordinatorTx.get_or_none(m.CoordinatorTx.idempotency_key == key)
        return _tx(row) if row else None

    def update_tx(self, tx_id: str, change: Callable[[BookingTx], object]):
        """Apply ``change`` to the logged transaction under a row lock and write it back.

        Returns (transaction after the change, what ``change`` returned). Concurrent changes
        (a vote, a wound, a decision) are serialised by the lock, so a decision is written once.
        """
        with self.transaction():
            row = _LOCK.first(self.db, tx_id=tx_id)
            if row is None:
                return None, None
            tx = _tx(row)
            out = change(tx)
            self._write(row, tx)
        return tx, out

    def _write(self, row: m.CoordinatorTx, tx: BookingTx) -> None:
        """Write ``tx`` back over its locked ``row``."""
        tx.updated_at = utcnow()
        values = {**_tx_row(tx), **_decided(row, tx)}
        _UPDATE.execute(self.db, (tuple(values),), **values, where=tx.tx_id)

    def update_txs(self, changes: dict[str, Callable[[BookingTx], object]]) -> list[BookingTx]:
        """``update_tx`` for several transactions in one database transaction (rows locked in
        id order, so two of these never deadlock). Returns the transactions found, changed."""
        if not changes:
            return []
        out = []
        ids = list(changes)
        with self.transaction():
            for row in lock_txs(self.db, ids):
                tx = _tx(row)
                changes[tx.tx_id](tx)
                self._write(row, tx)
                out.append(tx)
        return out

    def open_txs(self, updated_before: datetime | None = None) -> list[BookingTx]:
        q = m.CoordinatorTx.select().where(m.CoordinatorTx.open == True)  # noqa: E712
        if updated_before is not None:
            q = q.where(m.CoordinatorTx.updated_at < updated_before)
        return [_tx(r) for r in q.order_by(m.CoordinatorTx.created_at)]


def _decided(row: m.CoordinatorTx, tx: BookingTx) -> dict:
    """The moment the decision is first logged, written once."""
    return {"decided_at": tx.updated_at} if row.decision is None and tx.decision else {}


def _tx_row(tx: BookingTx) -> dict:
    return dict(
        tx_id=tx.tx_id,
        booking_id=tx.booking_id,
        coordinator=tx.coordinator,
        state=tx.state.value,
        decision=tx.decision,
        mode=tx.mode.value,
        car_id=tx.car_id,
        priority_at=tx.priority_at,
        reason=tx.reason,
        legs=json.dumps([_leg_json(leg) for leg in tx.legs]),
        acks=json.dumps(tx.acks),
        open=not tx.finished,
        idempotency_key=tx.idempotency_key,
        request_sha256=tx.request_sha256,
        owner=tx.owner,
        result=json.dumps(tx.result) if tx.result is not None else None,
        trip=json.dumps(tx.trip) if tx.trip is not None else None,
        hold_expires_at=tx.hold_expires_at,
        updated_at=tx.updated_at or utcnow(),
    )


def _leg_json(leg: TxLeg) -> dict:
    return dict(
        leg_index=leg.leg_index,
        company=leg.company,
        station_id=leg.station_id,
        connector_id=leg.connector_id,
        start=leg.window.start.isoformat(),
        end=leg.window.end.isoformat(),
        state=leg.state.value,
        reason=leg.reason,
        place_id=leg.place_id,
    )


def _tx(r: m.CoordinatorTx) -> BookingTx:
    legs = [
        TxLeg(
            leg_index=d["leg_index"],
            company=d["company"],
            station_id=d["station_id"],
            connector_id=d["connector_id"],
            window=Window(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"])),
            state=LegState(d["state"]),
            reason=d.get("reason"),
            place_id=d.get("place_id"),
        )
        for d in json.loads(r.legs)
    ]
    return BookingTx(
        tx_id=r.tx_id,
        booking_id=r.booking_id,
        coordinator=r.coordinator,
        car_id=r.car_id or "",
        mode=Mode(r.mode),
        priority_at=r.priority_at,
        legs=legs,
        created_at=r.created_at,
        state=TxState(r.state),
        decision=r.decision,
        reason=r.reason,
        hold_expires_at=r.hold_expires_at,
        acks=json.loads(r.acks or "{}"),
        idempotency_key=r.idempotency_key,
        request_sha256=r.request_sha256,
        result=json.loads(r.result) if r.result else None,
        updated_at=r.updated_at,
        owner=r.owner,
        lease_owner=r.lease_owner,
        lease_until=r.lease_until,
        trip=json.loads(r.trip) if r.trip else None,
    )
