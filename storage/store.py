"""The repository and unit of work the service layer talks to.

Rows go in and come out as ``booking.model`` objects, so nothing above this package sees peewee.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import cast

import peewee
from playhouse.pool import MaxConnectionsExceeded

from booking.errors import Conflict, Unavailable
from booking.model import (
    ACTIVE_STATES,
    Connector,
    ParticipantRecord,
    ParticipantState,
    Reservation,
    ReservationState,
    Station,
    Window,
    utcnow,
)
from booking.transaction import BookingTx, LegState, Mode, TxLeg, TxState
from storage import models as m
from storage.database import is_sqlite, migrate, open_database

_ACTIVE = [s.value for s in ACTIVE_STATES]
#: What the database (or its pool) raises when it cannot serve now: the client may retry.
_UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded)

log = logging.getLogger(__name__)


class Store:
    def __init__(self, url: str, pool_size: int = 10, pool_timeout: float = 5.0):
        self.url = url
        self.db = open_database(url, pool_size=pool_size, pool_timeout=pool_timeout)
        migrate(self.db)
        self.sqlite = is_sqlite(self.db)

    # -- connections and transactions -------------------------------------------------------

    def bind(self) -> None:
        """Point the models at this store's database (one store per process in production)."""
        m.database_proxy.initialize(self.db)

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        """A connection for the current thread, returned to the pool afterwards.

        A database that cannot serve now (down, pool exhausted past its wait, locked) raises
        ``Unavailable`` (503 with Retry-After), never a driver error."""
        with self._available():
            with self.db.connection_context():
                yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work. On SQLite it takes the write lock up front, which
        serialises the overlap check and the write across threads and processes."""
        with self._available():
            with self.db.connection_context():
                if self.sqlite and not self.db.in_transaction():
                    with self.db.atomic("IMMEDIATE"):
                        yield
                else:
                    with self.db.atomic():
                        yield

    @contextlib.contextmanager
    def _available(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
            raise Unavailable(f"the database of this server cannot serve now "
                              f"({type(exc).__name__}); try again shortly") from exc

    def close(self) -> None:
        if isinstance(self.db, peewee.PostgresqlDatabase) and hasattr(self.db, "close_all"):
            self.db.close_all()
        elif not self.db.is_closed():
            self.db.close()

    # -- settings ---------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = m.Setting.get_or_none(m.Setting.key == key)
        return row.value if row else None

    # -- peers ------------------------------------------------------------------------------

    def peer_for_token(self, token: str) -> str | None:
        """The company presenting ``token``, or None. Only token hashes are stored."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = m.Peer.get_or_none((m.Peer.token_in_sha256 == digest)
                                 | (m.Peer.token_prev_sha256 == digest))
        return row.company if row else None

    def list_peers(self) -> list[dict]:
        return [dict(company=p.company, url=p.url, token_out=p.token_out,
                     token_hashes={p.token_in_sha256, p.token_prev_sha256} - {None},
                     last_ok_at=p.last_ok_at, last_error=p.last_error)
                for p in m.Peer.select().order_by(m.Peer.company)]

    def save_peer(self, company: str, url: str, token_in: str, token_out: str) -> None:
        """Add or update a peer in one statement (servers registering at the same moment
        must not collide); the token it presents here is stored only as a hash, and the one
        it replaces stays valid until the next rotation."""
        now = utcnow()
        digest = hashlib.sha256(token_in.encode()).hexdigest()
        p = m.Peer
        p.insert(company=company, url=url, token_in_sha256=digest, token_out=token_out,
                 created_at=now, updated_at=now).on_conflict(
            conflict_target=[p.company],
            update={p.url: url, p.token_prev_sha256: p.token_in_sha256,
                    p.token_in_sha256: digest, p.token_out: token_out,
                    p.updated_at: now}).execute()

    def accept_peer(self, company: str, url: str, token_in: str, token_out: str,
                    proof: str | None) -> bool:
        """A company's own handshake: added if new; if known, updated only when ``proof`` is
        a token it may present here now (nobody else takes its name with the shared secret).
        The check and the write happen under the row's lock. False when refused."""
        with self.transaction():
            p = m.Peer
            now = utcnow()
            added = p.insert(company=company, url=url,
                             token_in_sha256=hashlib.sha256(token_in.encode()).hexdigest(),
                             token_out=token_out, created_at=now, updated_at=now
                             ).on_conflict_ignore().as_rowcount().execute()
            if added:
                return True
            q = p.select().where(p.company == company)
            if not self.sqlite:
                q = q.for_update()
            q.first()
            if not proof or not self.peer_holds_token(company, proof):
                return False
            self.save_peer(company, url, token_in, token_out)
            return True

    def peer_holds_token(self, company: str, token: str) -> bool:
        """Whether ``token`` is one that ``company`` may present here now."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        return m.Peer.select().where(
            (m.Peer.company == company)
            & ((m.Peer.token_in_sha256 == digest) | (m.Peer.token_prev_sha256 == digest))
        ).exists()

    def has_peer(self, company: str) -> bool:
        return m.Peer.select().where(m.Peer.company == company).exists()

    def delete_peer(self, company: str) -> bool:
        return m.Peer.delete().where(m.Peer.company == company).execute() > 0

    def note_peer_contact(self, company: str, error: str | None) -> None:
        if error is None:
            m.Peer.update(last_ok_at=utcnow(), last_error=None).where(
                m.Peer.company == company).execute()
        else:
            m.Peer.update(last_error=error[:500]).where(m.Peer.company == company).execute()

    # -- drivers ----------------------------------------------------------------------------

    def add_driver(self, driver_id: str, name: str, token: str) -> None:
        m.Driver.insert(id=driver_id, name=name,
                        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                        created_at=utcnow()).execute()

    def driver_for_token(self, token: str) -> str | None:
        row = m.Driver.get_or_none(
            m.Driver.token_sha256 == hashlib.sha256(token.encode()).hexdigest())
        return row.id if row else None

    # -- stations ---------------------------------------------------------------------------

    def add_station(self, station: Station) -> None:
        """Insert a station and its connectors; ``Conflict`` if the id is taken."""
        now = utcnow()
        try:
            with self.db.atomic():
                m.Station.insert(
                    id=station.id, company=station.company, place_id=station.place_id,
                    name=station.name, lat=station.lat, lon=station.lon,
                    status=station.status, created_at=now).execute()
                if station.connectors:
                    m.Connector.insert_many([
                        dict(id=c.id, station=station.id, power_kw=c.power_kw,
                             price_per_kwh=c.price_per_kwh, standard=c.standard)
                        for c in station.connectors]).execute()
        except peewee.IntegrityError as exc:
            raise Conflict(f"station {station.id!r} (or one of its connectors) already exists") from exc

    def get_station(self, station_id: str) -> Station | None:
        row = m.Station.get_or_none(m.Station.id == station_id)
        if row is None:
            return None
        return self._stations([row])[0]

    def list_stations(self, place_ids: Iterable[str] | None = None, company: str | None = None,
                      min_power_kw: float | None = None, limit: int | None = None,
                      offset: int = 0) -> tuple[list[Station], int]:
        """Stations matching the filters, ordered by id, and how many match in all."""
        q = m.Station.select()
        if place_ids is not None:
            q = q.where(m.Station.place_id.in_(list(place_ids)))
        if company is not None:
            q = q.where(m.Station.company == company)
        if min_power_kw is not None:
            q = q.where(fn_exists_connector_at_least(min_power_kw))
        total = q.count()
        q = q.order_by(m.Station.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return self._stations(list(q)), total

    def set_station_status(self, station_id: str, status: str) -> None:
        m.Station.update(status=status).where(m.Station.id == station_id).execute()

    def _stations(self, rows: list[m.Station]) -> list[Station]:
        by_station: dict[str, list[Connector]] = {r.id: [] for r in rows}
        if rows:
            for c in (m.Connector.select()
                      .where(m.Connector.station.in_(list(by_station)))
                      .order_by(m.Connector.id)):
                by_station[c.station_id].append(_connector(c))
        return [Station(id=r.id, company=r.company, place_id=r.place_id, name=r.name,
                        lat=r.lat, lon=r.lon, status=r.status,
                        connectors=tuple(by_station[r.id])) for r in rows]

    def connector_places(self, connector_ids: Iterable[str]) -> dict[str, tuple[Connector, str, str]]:
        """connector id -> (connector, its station's status, its station's place), one query."""
        q = (m.Connector.select(m.Connector, m.Station.id, m.Station.status, m.Station.place_id)
             .join(m.Station).where(m.Connector.id.in_(list(connector_ids))))
        return {row.id: (_connector(row), row.station.status, row.station.place_id) for row in q}

    # -- reservations -----------------------------------------------------------------------

    def active_reservations(self, connector_ids: Iterable[str], span: Window) -> list[Reservation]:
        """Active reservations of these connectors that meet ``span``, by start."""
        ids = list(connector_ids)
        if not ids:
            return []
        q = (m.Reservation.select()
             .where(m.Reservation.connector.in_(ids),
                    m.Reservation.state.in_(_ACTIVE),
                    m.Reservation.start_at < span.end,
                    m.Reservation.end_at > span.start)
             .order_by(m.Reservation.start_at))
        return [_reservation(r) for r in q]

    def add_reservation(self, res: Reservation) -> None:
        """Insert; ``Conflict`` when the database's no-overlap rule refuses it."""
        if self.add_reservations([res]):
            raise Conflict(
                f"connector {res.connector_id} is taken in "
                f"[{res.window.start.isoformat()}, {res.window.end.isoformat()})",
                connector_id=res.connector_id)

    def add_reservations(self, rows: list[Reservation]) -> list[Reservation]:
        """Insert them all; returns those the database's no-overlap rule refused (the others
        are in). One statement in the usual case; after a refusal, one by one to tell which."""
        if not rows:
            return []
        now = utcnow()
        values = [dict(id=r.id, connector=r.connector_id, station_id=r.station_id,
                       start_at=r.window.start, end_at=r.window.end, state=r.state.value,
                       booking_id=r.booking_id, tx_id=r.tx_id, leg_index=r.leg_index,
                       car_id=r.car_id, priority_at=r.priority_at,
                       hold_expires_at=r.hold_expires_at, created_at=r.created_at,
                       updated_at=now) for r in rows]
        if self._insert_reservations(values):
            return []
        if len(rows) == 1:
            return list(rows)
        return [r for r, v in zip(rows, values, strict=True) if not self._insert_reservations([v])]

    def _insert_reservations(self, values: list[dict]) -> bool:
        """False when the no-overlap rule refused the insert (nothing of it is written)."""
        try:
            with self.db.atomic():  # a savepoint: a refused insert leaves the outer work intact
                m.Reservation.insert_many(values).execute()
        except peewee.IntegrityError as exc:
            if _is_overlap(exc):
                return False
            raise
        return True

    def reservations_of_booking(self, booking_id: str) -> list[Reservation]:
        q = (m.Reservation.select().where(m.Reservation.booking_id == booking_id)
             .order_by(m.Reservation.leg_index))
        return [_reservation(r) for r in q]

    def set_reservation_state(self, reservation_ids: Iterable[str], state: ReservationState,
                              only_from: Iterable[ReservationState] | None = None) -> int:
        q = m.Reservation.update(state=state.value, updated_at=utcnow()).where(
            m.Reservation.id.in_(list(reservation_ids)))
        if only_from is not None:
            q = q.where(m.Reservation.state.in_([s.value for s in only_from]))
        try:
            with self.db.atomic():  # a savepoint, as in add_reservation
                return q.execute()
        except peewee.IntegrityError as exc:
            if _is_overlap(exc):
                raise Conflict("the window is taken by another reservation now") from exc
            raise

    def reservations_of_tx(self, tx_id: str) -> list[Reservation]:
        q = (m.Reservation.select().where(m.Reservation.tx_id == tx_id)
             .order_by(m.Reservation.leg_index, m.Reservation.created_at))
        return [_reservation(r) for r in q]

    def expired_confirmed(self, before: datetime) -> list[Reservation]:
        """Confirmed windows that ended before ``before`` without charging (no-shows)."""
        q = m.Reservation.select().where(m.Reservation.state == ReservationState.CONFIRMED.value,
                                         m.Reservation.end_at < before)
        return [_reservation(r) for r in q]

    def overlapping_pairs(self) -> list[tuple[str, str]]:
        """Pairs of active reservations of one connector that overlap (always empty; for checks)."""
        a, b = m.Reservation.alias("a"), m.Reservation.alias("b")
        q = (a.select(a.id, b.id.alias("other"))
             .join(b, on=((a.connector == b.connector) & (a.id < b.id)))
             .where(a.state.in_(_ACTIVE), b.state.in_(_ACTIVE),
                    a.start_at < b.end_at, b.start_at < a.end_at))
        rows = cast(Iterable[dict], q.dicts())  # .dicts() yields dicts; the stubs say models
        return [(row["id"], row["other"]) for row in rows]


    # -- car telemetry ------------------------------------------------------------------------

    def save_telemetry(self, rows: list[dict]) -> None:
        """Upsert the latest telemetry of each car; ``messages`` accumulates counts."""
        if not rows:
            return
        t = m.CarTelemetry
        t.insert_many(rows).on_conflict(
            conflict_target=[t.car_id],
            update={t.soc: peewee.EXCLUDED.soc, t.lat: peewee.EXCLUDED.lat,
                    t.lon: peewee.EXCLUDED.lon, t.speed_kmh: peewee.EXCLUDED.speed_kmh,
                    t.received_at: peewee.EXCLUDED.received_at,
                    t.messages: t.messages + peewee.EXCLUDED.messages}).execute()

    # -- the coordinator's log ----------------------------------------------------------------

    def add_tx(self, tx: BookingTx) -> None:
        """Write a new transaction; ``Conflict`` if its idempotency key is taken already."""
        try:
            with self.db.atomic():
                m.CoordinatorTx.insert(**_tx_row(tx), created_at=tx.created_at).execute()
        except peewee.IntegrityError as exc:
            raise Conflict("a booking with this Idempotency-Key or id exists already") from exc

    def get_tx(self, tx_id: str) -> BookingTx | None:
        row = m.CoordinatorTx.get_or_none(m.CoordinatorTx.tx_id == tx_id)
        return _tx(row) if row else None

    def get_tx_by_booking(self, booking_id: str) -> BookingTx | None:
        row = m.CoordinatorTx.get_or_none(m.CoordinatorTx.booking_id == booking_id)
        return _tx(row) if row else None

    def get_tx_by_key(self, key: str) -> BookingTx | None:
        row = m.CoordinatorTx.get_or_none(m.CoordinatorTx.idempotency_key == key)
        return _tx(row) if row else None

    def update_tx(self, tx_id: str, change: Callable[[BookingTx], object]):
        """Apply ``change`` to the logged transaction under a row lock and write it back.

        Returns (transaction after the change, what ``change`` returned). Concurrent changes
        (a vote, a wound, a decision) are serialised by the lock, so a decision is written once.
        """
        with self.transaction():
            q = m.CoordinatorTx.select().where(m.CoordinatorTx.tx_id == tx_id)
            if not self.sqlite:
                q = q.for_update()
            row = q.first()
            if row is None:
                return None, None
            tx = _tx(row)
            out = change(tx)
            tx.updated_at = utcnow()
            m.CoordinatorTx.update(**_tx_row(tx)).where(
                m.CoordinatorTx.tx_id == tx_id).execute()
        return tx, out

    def open_txs(self, updated_before: datetime | None = None) -> list[BookingTx]:
        q = m.CoordinatorTx.select().where(m.CoordinatorTx.open == True)  # noqa: E712
        if updated_before is not None:
            q = q.where(m.CoordinatorTx.updated_at < updated_before)
        return [_tx(r) for r in q.order_by(m.CoordinatorTx.created_at)]

    # -- the participant's records -----------------------------------------------------------

    def get_participant(self, tx_id: str) -> ParticipantRecord | None:
        row = m.ParticipantTx.get_or_none(m.ParticipantTx.tx_id == tx_id)
        return _participant(row) if row else None

    def lock_participant(self, tx_id: str,
                         create: ParticipantRecord | None = None) -> ParticipantRecord | None:
        """The participant's record under a row lock, for the rest of the current transaction.

        With ``create``, a missing record is written first (``ON CONFLICT DO NOTHING``), so two
        messages about a new transaction (a prepare and an abort racing) meet on one row: the
        second waits for the first to commit and then sees what it wrote. On SQLite the write
        lock taken by ``transaction()`` serialises them already.
        """
        assert self.db.in_transaction(), "lock_participant needs Store.transaction()"
        if create is not None:
            create.updated_at = utcnow()
            m.ParticipantTx.insert(tx_id=tx_id, created_at=create.created_at,
                                   **_participant_fields(create)).on_conflict_ignore().execute()
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
            update={getattr(m.ParticipantTx, k): v for k, v in fields.items()}).execute()

    def orphan_holds(self) -> list[Reservation]:
        """Held reservations whose participant record is not ``prepared`` (or is missing):
        nothing would ever release them. Always empty unless a bug slipped in; recovery
        releases them and logs it."""
        p = m.ParticipantTx
        q = (m.Reservation.select()
             .join(p, peewee.JOIN.LEFT_OUTER, on=(m.Reservation.tx_id == p.tx_id))
             .where(m.Reservation.state == ReservationState.HELD.value,
                    p.tx_id.is_null(True) | (p.state != ParticipantState.PREPARED.value)))
        return [_reservation(r) for r in q]

    def participants_in_doubt(self, updated_before: datetime) -> list[ParticipantRecord]:
        """Prepared records not touched since ``updated_before``, and unreported heuristics."""
        q = m.ParticipantTx.select().where(
            ((m.ParticipantTx.state == ParticipantState.PREPARED.value)
             & (m.ParticipantTx.updated_at < updated_before))
            | (m.ParticipantTx.heuristic.is_null(False)
               & m.ParticipantTx.heuristic_note.is_null(True)))
        return [_participant(r) for r in q]


def _participant_fields(rec: ParticipantRecord) -> dict:
    return dict(coordinator=rec.coordinator, booking_id=rec.booking_id, car_id=rec.car_id,
                state=rec.state.value, priority_at=rec.priority_at,
                hold_expires_at=rec.hold_expires_at, heuristic=rec.heuristic,
                heuristic_note=rec.heuristic_note, updated_at=rec.updated_at or utcnow())


def fn_exists_connector_at_least(power_kw: float):
    sub = m.Connector.select(m.Connector.id).where(
        (m.Connector.station == m.Station.id) & (m.Connector.power_kw >= power_kw))
    return peewee.fn.EXISTS(sub)


def _is_overlap(exc: peewee.IntegrityError) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) == "23P01":
        return True
    return "reservation_no_overlap" in str(exc)


def _connector(row: m.Connector) -> Connector:
    return Connector(id=row.id, station_id=row.station_id, power_kw=row.power_kw,
                     price_per_kwh=row.price_per_kwh, standard=row.standard)


def _reservation(r: m.Reservation) -> Reservation:
    return Reservation(
        id=r.id, connector_id=r.connector_id, station_id=r.station_id,
        window=Window(r.start_at, r.end_at), state=ReservationState(r.state),
        booking_id=r.booking_id, tx_id=r.tx_id, leg_index=r.leg_index, car_id=r.car_id,
        priority_at=r.priority_at, hold_expires_at=r.hold_expires_at, created_at=r.created_at)




def _tx_row(tx: BookingTx) -> dict:
    return dict(
        tx_id=tx.tx_id, booking_id=tx.booking_id, coordinator=tx.coordinator,
        state=tx.state.value, decision=tx.decision, mode=tx.mode.value, car_id=tx.car_id,
        priority_at=tx.priority_at, reason=tx.reason,
        legs=json.dumps([_leg_json(leg) for leg in tx.legs]),
        acks=json.dumps(tx.acks), open=not tx.finished,
        idempotency_key=tx.idempotency_key, request_sha256=tx.request_sha256, owner=tx.owner,
        result=json.dumps(tx.result) if tx.result is not None else None,
        hold_expires_at=tx.hold_expires_at, updated_at=tx.updated_at or utcnow())


def _leg_json(leg: TxLeg) -> dict:
    return dict(leg_index=leg.leg_index, company=leg.company, station_id=leg.station_id,
                connector_id=leg.connector_id, start=leg.window.start.isoformat(),
                end=leg.window.end.isoformat(), state=leg.state.value, reason=leg.reason,
                place_id=leg.place_id)


def _tx(r: m.CoordinatorTx) -> BookingTx:
    legs = [TxLeg(leg_index=d["leg_index"], company=d["company"], station_id=d["station_id"],
                  connector_id=d["connector_id"],
                  window=Window(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"])),
                  state=LegState(d["state"]), reason=d.get("reason"), place_id=d.get("place_id"))
            for d in json.loads(r.legs)]
    return BookingTx(
        tx_id=r.tx_id, booking_id=r.booking_id, coordinator=r.coordinator,
        car_id=r.car_id or "", mode=Mode(r.mode), priority_at=r.priority_at, legs=legs, created_at=r.created_at,
        state=TxState(r.state), decision=r.decision, reason=r.reason,
        hold_expires_at=r.hold_expires_at, acks=json.loads(r.acks or "{}"),
        idempotency_key=r.idempotency_key, request_sha256=r.request_sha256,
        result=json.loads(r.result) if r.result else None, updated_at=r.updated_at,
        owner=r.owner)


def _participant(r: m.ParticipantTx) -> ParticipantRecord:
    return ParticipantRecord(
        tx_id=r.tx_id, coordinator=r.coordinator, booking_id=r.booking_id, car_id=r.car_id,
        state=ParticipantState(r.state), priority_at=r.priority_at,
        hold_expires_at=r.hold_expires_at, heuristic=r.heuristic,
        heuristic_note=r.heuristic_note, created_at=r.created_at, updated_at=r.updated_at)
