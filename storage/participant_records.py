"""The participant's records of the transactions it takes part in, locked while their
holds change."""

from __future__ import annotations

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


class ParticipantRecords(Repository):
    def get_participant(self, tx_id: str) -> ParticipantRecord | None:
        row = m.ParticipantTx.get_or_none(m.ParticipantTx.tx_id == tx_id)
        return _participant(row) if row else None

    def lock_participant(
        self, tx_id: str, create: ParticipantRecord | None = None
    ) -> ParticipantRecord | None:
        """The participant's record under a row lock, for the rest of the current transaction.

        With ``create``, a missing record is written first (``ON CONFLICT DO NOTHING``), so two
        messages about a new transaction (a prepare and an abort racing) meet on one row: the
        second waits for the first to commit and then sees what it wrote. On SQLite the write
        lock taken by ``transaction()`` serialises them already.
        """
        assert self.db.in_transaction(), "lock_participant needs Store.transaction()"
        if create is not None:
            create.updated_at = utcnow()
            m.ParticipantTx.insert(
                tx_id=tx_id, created_at=create.created_at, **_participant_fields(create)
            ).on_conflict_ignore().execute()
        q = m.ParticipantTx.select().where(m.ParticipantTx.tx_id == tx_id)
        if not self.sqlite:
            q = q.for_update()
        row = q.first()
        return _participant(row) if row else None

    def save_participant(self, rec: ParticipantRecord) -> None:
        rec.updated_at = utcnow()
        fields = _participant_fields(rec)
        m.ParticipantTx.insert(tx_id=rec.tx_id, created_at=rec.created_at, **fields).on_conflict(
            conflict_target=[m.ParticipantTx.tx_id],
            update={getattr(m.ParticipantTx, k): v for k, v in fields.items()},
        ).execute()

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


def _participant_fields(rec: ParticipantRecord) -> dict:
    return dict(
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
