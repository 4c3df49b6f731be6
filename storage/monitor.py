"""What the console reads: a window of reservations, the latest transactions, the recovery
backlog and the cars' positions. Read-only; each is one or two indexed queries, built as tuples
(the console polls them every second, at 10,000 reservations)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import peewee

from booking.model import ParticipantState, Reservation, Window
from storage import models as m
from storage.repository import Repository
from storage.reservations import row_to_reservation


class MonitorRepository(Repository):
    def reservations_between(self, span: Window) -> list[tuple]:
        """Every reservation of this company's connectors that meets ``span``, whatever its
        state, with the coordinator of its booking (None when this company coordinates it or
        no record is left): (id, connector, station, start, end, state, booking, tx, leg,
        car, coordinator), by connector then start."""
        r, p = m.Reservation, m.ParticipantTx
        q = (
            r.select(
                r.id,
                r.connector_id,
                r.station_id,
                r.start_at,
                r.end_at,
                r.state,
                r.booking_id,
                r.tx_id,
                r.leg_index,
                r.car_id,
                p.coordinator,
            )
            .join(p, peewee.JOIN.LEFT_OUTER, on=(r.tx_id == p.tx_id))
            .where(r.start_at < span.end, r.end_at > span.start)
            .order_by(r.connector_id, r.start_at)
        )
        return self.raw_rows(q, times=(3, 4))

    def reservations_version(self, span: Window) -> tuple[int, datetime | None]:
        """How many reservations meet ``span`` and the latest change among them: every write
        of a reservation sets its ``updated_at``, so this pair changes whenever the answer of
        ``reservations_between`` would (one indexed aggregate instead of the rows)."""
        r = m.Reservation
        count, latest = (
            r.select(peewee.fn.COUNT(r.id), peewee.fn.MAX(r.updated_at))
            .where(r.start_at < span.end, r.end_at > span.start)
            .scalar(as_tuple=True)
        )
        return int(count or 0), latest

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        row = m.Reservation.get_or_none(m.Reservation.id == reservation_id)
        return row_to_reservation(row) if row else None

    def recent_transactions(self, limit: int) -> list[tuple]:
        """The newest transactions this company coordinated: (tx, booking, state, decision,
        legs JSON, open, reason, created, decided), newest first."""
        t = m.CoordinatorTx
        q = (
            t.select(
                t.tx_id,
                t.booking_id,
                t.state,
                t.decision,
                t.legs,
                t.open,
                t.reason,
                t.created_at,
                t.decided_at,
            )
            .order_by(t.created_at.desc())
            .limit(limit)
            .tuples()
        )
        return cast(list[tuple], list(q))

    def recovery_backlog(self, updated_before: datetime) -> dict[str, int]:
        """What the recovery worker has to do: decisions not yet acknowledged by every company,
        participant records still waiting for their coordinator's word (and those older than
        ``updated_before``: in doubt), and decisions taken alone that were not yet reported."""
        t, p = m.CoordinatorTx, m.ParticipantTx
        prepared = p.state == ParticipantState.PREPARED.value
        return {
            "open_transactions": t.select().where(t.open == True).count(),  # noqa: E712
            "prepared_here": p.select().where(prepared).count(),
            "in_doubt_here": p.select().where(prepared & (p.updated_at < updated_before)).count(),
            "heuristic_unreported": p.select()
            .where(p.heuristic.is_null(False) & p.heuristic_note.is_null(True))
            .count(),
        }

    def cars_since(self, since: datetime) -> list[tuple]:
        """The cars heard from after ``since``: (car, soc, lat, lon, speed, at), by car."""
        c = m.CarTelemetry
        q = (
            c.select(c.car_id, c.soc, c.lat, c.lon, c.speed_kmh, c.received_at)
            .where(c.received_at > since)
            .order_by(c.car_id)
            .tuples()
        )
        return cast(list[tuple], list(q))
