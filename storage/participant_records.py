"""The participant's records of the transactions it takes part in, locked while their
holds change."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import peewee

from booking.model import (
    ParticipantRecord,
    ParticipantState,
    Reservation,
    ReservationState,
    utcnow,
)
from storage import models as m
from storage.repository import Repository
from storage.reservations import row_to_reservation
from storage.statements import Slot, Statement, one_by

P = m.ParticipantTx
_WRITTEN = [f for f in P._meta.sorted_fields]  # every column, in the table's order


def _insert() -> peewee.Insert:
    return P.insert({f: Slot(f.name, field=f) for f in _WRITTEN})


_GET = Statement(lambda sqlite: one_by(P.tx_id, sqlite))
_LOCK = Statement(lambda sqlite: one_by(P.tx_id, sqlite, lock=True))
_CREATE = Statement(lambda sqlite: _insert().on_conflict_ignore())
_SAVE = Statement(
    lambda sqlite: _insert().on_conflict(
        conflict_target=[P.tx_id],
        preserve=[f for f in _WRITTEN if f.name not in ("tx_id", "created_at")],
    )
)


class ParticipantRecords(Repository):
    def get_participant(self, tx_id: str) -> ParticipantRecord | None:
        row = _GET.first(self.db, tx_id=tx_id)
        return _participant(row) if row else None

    def lock_participant(
        self, tx_id: str, create: ParticipantRecord | None = None
    ) -> ParticipantRecord | None:
        """The participant's record under a row lock, for the rest of the current transaction.

        With ``create``, a missing record is written first (``ON CONFLICT DO NOTHING``), so two
        messages about a new transaction (a prepare and an abort racing) meet on one row: the
        second waits for the first to commit and then sees what it wrote. On SQLite the write
        lock taken by ``transaction()`` serialises them already. A record this call wrote is
        locked by its insert and is what was written: it is not read back.
        """
        assert self.db.in_transaction(), "lock_participant needs Store.transaction()"
        if create is not None:
            create.updated_at = utcnow()
            written = dataclasses.replace(create, tx_id=tx_id)
            if _CREATE.execute(self.db, **_row_values(written)).rowcount == 1:
                return written
        row = _LOCK.first(self.db, tx_id=tx_id)
        return _participant(row) if row else None

    def save_participant(self, rec: ParticipantRecord) -> None:
        rec.updated_at = utcnow()
        _SAVE.execute(self.db, **_row_values(rec))

    def orphan_holds(self) -> list[Reservation]:
        """Held reservations whose participant record is not ``prepared`` (or is missing):
        nothing would ever release them. Always empty unless a bug slipped in; recovery
        releases them and logs it."""
        p = m.ParticipantTx
        q = (
            m.Reservation.select()
            .join(p, peewee.JOIN.LEFT_OUTER, on=(m.Reservation.tx_id == p.tx_id))
            .where(
                m.Reservation.state == ReservationState.HELD.value,
                p.tx_id.is_null(True) | (p.state != ParticipantState.PREPARED.value),
            )
        )
        return [row_to_reservation(r) for r in q]

    def participants_in_doubt(self, updated_before: datetime) -> list[ParticipantRecord]:
        """Prepared records not touched since ``updated_before``, and unreported heuristics."""
        q = m.ParticipantTx.select().where(
            (
                (m.ParticipantTx.state == ParticipantState.PREPARED.value)
                & (m.ParticipantTx.updated_at < updated_before)
            )
            | (
                m.ParticipantTx.heuristic.is_null(False)
                & m.ParticipantTx.heuristic_note.is_null(True)
            )
        )
        return [_participant(r) for r in q]


def _row_values(rec: ParticipantRecord) -> dict:
    """A record's row: every column of ``participant_tx``."""
    return dict(
        tx_id=rec.tx_id,
        created_at=rec.created_at,
        coordinator=rec.coordinator,
        booking_id=rec.booking_id,
        car_id=rec.car_id,
        state=rec.state.value,
        priority_at=rec.priority_at,
        hold_expires_at=rec.hold_expires_at,
        heuristic=rec.heuristic,
        heuristic_note=rec.heuristic_note,
        updated_at=rec.updated_at or utcnow(),
    )


def _participant(r: m.ParticipantTx) -> ParticipantRecord:
    return ParticipantRecord(
        tx_id=r.tx_id,
        coordinator=r.coordinator,
        booking_id=r.booking_id,
        car_id=r.car_id,
        state=ParticipantState(r.state),
        priority_at=r.priority_at,
        hold_expires_at=r.hold_expires_at,
        heuristic=r.heuristic,
        heuristic_note=r.heuristic_note,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )
