"""Reservations: windows of connectors, never overlapping while active (the database
enforces it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

import peewee

from booking.errors import Conflict
from booking.model import ACTIVE_STATES, Reservation, ReservationState, Window, utcnow
from storage import models as m
from storage.repository import Repository
from storage.statements import Slot, Statement, slots

ACTIVE_VALUES = [s.value for s in ACTIVE_STATES]  # the states that hold a window
R, C = m.Reservation, m.Connector
_COLUMNS = list(R._meta.sorted_fields)


def _active_on(sqlite: bool, connectors: int) -> peewee.Node:
    return (
        R.select()
        .where(
            R.connector.in_(slots("connector_ids", connectors)),
            R.state.in_(ACTIVE_VALUES),
            R.start_at < Slot("end"),
            R.end_at > Slot("start"),
        )
        .order_by(R.start_at)
    )


def _lock_connectors(sqlite: bool, count: int) -> peewee.Node:
    return C.select(C.id).where(C.id.in_(slots("ids", count))).order_by(C.id).for_update()


def _lock_connectors_of(sqlite: bool, count: int) -> peewee.Node:
    of = R.select(R.connector).where(R.id.in_(slots("ids", count)))
    return C.select(C.id).where(C.id.in_(of)).order_by(C.id).for_update()


def _insert(sqlite: bool, count: int) -> peewee.Node:
    rows = [{f: Slot(f.name, i, field=f) for f in _COLUMNS} for i in range(count)]
    q = R.insert_many(rows)
    if sqlite:  # the trigger's RAISE: caught under a savepoint
        return q
    # the exclusion constraint as the arbiter: a refused row is not inserted, nor returned
    return q.on_conflict(action="NOTHING", conflict_constraint="reservation_no_overlap").returning(
        R.id
    )


def _set_state(sqlite: bool, count: int, only_from: int) -> peewee.Node:
    q = R.update(
        {R.state: Slot("state", field=R.state), R.updated_at: Slot("now", field=R.updated_at)}
    )
    q = q.where(R.id.in_(slots("ids", count)))
    return q.where(R.state.in_(slots("only_from", only_from))) if only_from else q


def _of_tx(sqlite: bool) -> peewee.Node:
    return R.select().where(R.tx_id == Slot("tx_id")).order_by(R.leg_index, R.created_at)


_ACTIVE_ON = Statement(_active_on)
_LOCK_CONNECTORS = Statement(_lock_connectors)
_LOCK_CONNECTORS_OF = Statement(_lock_connectors_of)
_INSERT = Statement(_insert)
_SET_STATE = Statement(_set_state)
_OF_TX = Statement(_of_tx)


class ReservationRepository(Repository):
    def active_reservations(self, connector_ids: Iterable[str], span: Window) -> list[Reservation]:
        """Active reservations of these connectors that meet ``span``, by start."""
        ids = list(connector_ids)
        if not ids:
            return []
        rows = _ACTIVE_ON.rows(
            self.db, (len(ids),), connector_ids=ids, start=span.start, end=span.end
        )
        return [row_to_reservation(r) for r in rows]

    def _lock_connectors_of(self, reservation_ids: list[str]) -> None:
        """``lock_connectors`` for the connectors of these reservations, in one statement."""
        if self.sqlite:
            return
        assert self.db.in_transaction(), "lock_connectors needs Store.transaction()"
        _LOCK_CONNECTORS_OF.execute(self.db, (len(reservation_ids),), ids=reservation_ids)

    def add_reservation(self, res: Reservation) -> None:
        """Insert; ``Conflict`` when the database's no-overlap rule refuses it."""
        if self.add_reservations([res]):
            raise Conflict(
                f"connector {res.connector_id} is taken in "
                f"[{res.window.start.isoformat()}, {res.window.end.isoformat()})",
                connector_id=res.connector_id,
            )

    def limit_lock_waits(self, seconds: float) -> None:
        """No lock of the current transaction is waited for longer than ``seconds``
        (``Contended`` then; PostgreSQL's lock_timeout, for this transaction only)."""
        if self.sqlite:
            return
        assert self.db.in_transaction(), "limit_lock_waits needs Store.transaction()"
        self.db.execute_sql(
            "SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(seconds * 1000))}ms",)
        )

    def lock_connectors(self, connector_ids: Iterable[str]) -> None:
        """Lock these connectors' rows, in one order (by id), for the rest of the transaction.

        Every write that makes a reservation active (a hold inserted, a hold confirmed, a
        session started, a released window taken again) takes its connectors' locks first, so
        two writers of one connector never reach PostgreSQL's exclusion check with each other's
        row pending — each would wait on the other, a deadlock the database breaks by failing
        one. Taken in id order, locks of several connectors form no cycle either; a
        transaction takes a participant record's lock (if any) before, never after. On SQLite
        the write lock that ``Store.transaction()`` takes serialises writers already.
        """
        ids = sorted(set(connector_ids))
        if self.sqlite or not ids:
            return
        assert self.db.in_transaction(), "lock_connectors needs Store.transaction()"
        _LOCK_CONNECTORS.execute(self.db, (len(ids),), ids=ids)

    def add_reservations(self, rows: list[Reservation]) -> list[Reservation]:
        """Insert them all; returns those the database's no-overlap rule refused (the others
        are in). One statement in the usual case; after a refusal, one by one to tell which."""
        if not rows:
            return []
        self.lock_connectors(r.connector_id for r in rows)
        if not self.sqlite:
            # one statement: the rows the exclusion constraint refuses are left out, unreturned
            inserted = {row[0] for row in self._insert(rows).fetchall()}
            return [r for r in rows if r.id not in inserted]
        if self._insert_under_savepoint(rows):
            return []
        if len(rows) == 1:
            return list(rows)
        return [r for r in rows if not self._insert_under_savepoint([r])]

    def _insert(self, rows: list[Reservation]):
        now = utcnow()
        return _INSERT.execute(
            self.db,
            (len(rows),),
            id=[r.id for r in rows],
            connector=[r.connector_id for r in rows],
            station_id=[r.station_id for r in rows],
            start_at=[r.window.start for r in rows],
            end_at=[r.window.end for r in rows],
            state=[r.state.value for r in rows],
            booking_id=[r.booking_id for r in rows],
            tx_id=[r.tx_id for r in rows],
            leg_index=[r.leg_index for r in rows],
            car_id=[r.car_id for r in rows],
            priority_at=[r.priority_at for r in rows],
            hold_expires_at=[r.hold_expires_at for r in rows],
            created_at=[r.created_at for r in rows],
            updated_at=[now] * len(rows),
        )

    def _insert_under_savepoint(self, rows: list[Reservation]) -> bool:
        """SQLite: False when the no-overlap trigger refused the insert (nothing of it is
        written; the savepoint leaves the outer work intact)."""
        try:
            with self.db.atomic():
                self._insert(rows)
        except peewee.IntegrityError as exc:
            if _is_overlap(exc):
                return False
            raise
        return True

    def reservations_of_booking(self, booking_id: str) -> list[Reservation]:
        q = (
            m.Reservation.select()
            .where(m.Reservation.booking_id == booking_id)
            .order_by(m.Reservation.leg_index)
        )
        return [row_to_reservation(r) for r in q]

    def set_reservation_state(
        self,
        reservation_ids: Iterable[str],
        state: ReservationState,
        only_from: Iterable[ReservationState] | None = None,
    ) -> int:
        ids = list(reservation_ids)
        if not ids:
            return 0
        sources = [s.value for s in only_from] if only_from is not None else []

        def update() -> int:
            return _SET_STATE.execute(
                self.db,
                (len(ids), len(sources)),
                ids=ids,
                state=state.value,
                now=utcnow(),
                only_from=sources,
            ).rowcount

        if state not in ACTIVE_STATES:
            return update()  # leaving the active states makes no overlap: no check to pass
        # the row is checked against the others again: its connectors' locks first
        self._lock_connectors_of(ids)
        if only_from is not None and all(s in ACTIVE_STATES for s in only_from):
            # it occupied its window already (held -> confirmed, confirmed -> charging): no
            # overlap can come of it, so no savepoint to catch one (a commit's hot path)
            return update()
        try:
            with self.db.atomic():  # a savepoint, as in add_reservation
                return update()
        except peewee.IntegrityError as exc:
            if _is_overlap(exc):
                raise Conflict("the window is taken by another reservation now") from exc
            raise

    def reservations_of_tx(self, tx_id: str) -> list[Reservation]:
        return [row_to_reservation(r) for r in _OF_TX.rows(self.db, tx_id=tx_id)]

    def unstarted_confirmed(self, before: datetime) -> list[Reservation]:
        """Confirmed windows that began before ``before`` and were never started (no-shows)."""
        q = m.Reservation.select().where(
            m.Reservation.state == ReservationState.CONFIRMED.value, m.Reservation.start_at < before
        )
        return [row_to_reservation(r) for r in q]

    def overlapping_pairs(self) -> list[tuple[str, str]]:
        """Pairs of active reservations of one connector that overlap (always empty; for checks)."""
        a, b = m.Reservation.alias("a"), m.Reservation.alias("b")
        q = (
            a.select(a.id, b.id.alias("other"))
            .join(b, on=((a.connector == b.connector) & (a.id < b.id)))
            .where(
                a.state.in_(ACTIVE_VALUES),
                b.state.in_(ACTIVE_VALUES),
                a.start_at < b.end_at,
                b.start_at < a.end_at,
            )
        )
        rows = cast(Iterable[dict], q.dicts())  # .dicts() yields dicts; the stubs say models
        return [(row["id"], row["other"]) for row in rows]


def _is_overlap(exc: peewee.IntegrityError) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) == "23P01":
        return True
    return "reservation_no_overlap" in str(exc)


def row_to_reservation(r: m.Reservation) -> Reservation:
    return Reservation(
        id=r.id,
        connector_id=r.connector_id,
        station_id=r.station_id,
        window=Window(r.start_at, r.end_at),
        state=ReservationState(r.state),
        booking_id=r.booking_id,
        tx_id=r.tx_id,
        leg_index=r.leg_index,
        car_id=r.car_id,
        priority_at=r.priority_at,
        hold_expires_at=r.hold_expires_at,
        created_at=r.created_at,
    )
