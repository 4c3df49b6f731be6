"""Stations and their connectors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

import peewee

from booking.errors import Conflict
from booking.model import Connector, Station, utcnow
from storage import models as m
from storage.repository import Repository
from storage.reservations import ACTIVE_VALUES
from storage.statements import Statement, slots


class StationRepository(Repository):
    def add_station(self, station: Station) -> None:
        """Insert a station and its connectors; ``Conflict`` if the id is taken."""
        now = utcnow()
        try:
            with self.db.atomic():
                self._catalog_changed(station.id)
                m.Station.insert(
                    id=station.id,
                    company=station.company,
                    place_id=station.place_id,
                    name=station.name,
                    lat=station.lat,
                    lon=station.lon,
                    status=station.status,
                    created_at=now,
                ).execute()
                if station.connectors:
                    m.Connector.insert_many(
                        [
                            dict(
                                id=c.id,
                                station=station.id,
                                power_kw=c.power_kw,
                                price_per_kwh=c.price_per_kwh,
                                standard=c.standard,
                            )
                            for c in station.connectors
                        ]
                    ).execute()
        except peewee.IntegrityError as exc:
            raise Conflict(
                f"station {station.id!r} (or one of its connectors) already exists"
            ) from exc

    def get_station(self, station_id: str) -> Station | None:
        row = m.Station.get_or_none(m.Station.id == station_id)
        if row is None:
            return None
        return self._stations([row])[0]

    def list_stations(
        self,
        place_ids: Iterable[str] | None = None,
        company: str | None = None,
        min_power_kw: float | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[Station], int]:
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

    def update_station(
        self, station_id: str, name: str | None, connectors: dict[str, dict]
    ) -> None:
        """Change a station's name and its connectors' power and price (a new catalog version)."""
        with self.db.atomic():
            self._catalog_changed(station_id)
            if name is not None:
                m.Station.update(name=name).where(m.Station.id == station_id).execute()
            for connector_id, fields in connectors.items():
                if fields:
                    m.Connector.update(**fields).where(
                        (m.Connector.id == connector_id) & (m.Connector.station == station_id)
                    ).execute()

    def delete_station(self, station_id: str, now: datetime) -> None:
        """Remove a station, its connectors and their past reservations (a new catalog
        version); ``Conflict`` while any of its windows is active and not yet over."""
        with self.db.atomic():
            self._catalog_changed(station_id)
            active = (
                m.Reservation.select(m.Reservation.id)
                .join(m.Connector)
                .where(
                    m.Connector.station == station_id,
                    m.Reservation.state.in_(ACTIVE_VALUES),
                    m.Reservation.end_at > now,
                )
                .limit(1)
            )
            if active.exists():
                raise Conflict(
                    f"station {station_id} has reservations to honour; it can be "
                    f"removed once they are over or cancelled"
                )
            connectors = m.Connector.select(m.Connector.id).where(m.Connector.station == station_id)
            m.Reservation.delete().where(m.Reservation.connector.in_(connectors)).execute()
            m.Connector.delete().where(m.Connector.station == station_id).execute()
            m.Station.delete().where(m.Station.id == station_id).execute()

    def _catalog_changed(self, station_id: str) -> None:
        """Within the change's transaction: the next catalog version, under a lock on the
        version row, so versions commit in the order they are given (a replica that has
        version N has every change up to N)."""
        key = "catalog_version"
        m.Setting.insert(key=key, value="0").on_conflict_ignore().execute()
        q = m.Setting.select().where(m.Setting.key == key)
        if not self.sqlite:
            q = q.for_update()
        version = int(q.get().value) + 1
        m.Setting.update(value=str(version)).where(m.Setting.key == key).execute()
        m.CatalogChange.insert(version=version, station_id=station_id, at=utcnow()).execute()

    def catalog_version(self) -> int:
        row = m.Setting.get_or_none(m.Setting.key == "catalog_version")
        return int(row.value) if row else 0

    def catalog_changes(self, since: int | None) -> tuple[int, list[Station], list[str]]:
        """(version, stations, removed ids): every station when ``since`` is None, else those
        changed after version ``since`` and the ids of those removed since."""
        with self.db.atomic():  # one snapshot: the version matches the rows
            version = self.catalog_version()
            if since is None:
                return version, self._stations(list(m.Station.select().order_by(m.Station.id))), []
            changed = sorted(
                {
                    r.station_id
                    for r in m.CatalogChange.select(m.CatalogChange.station_id).where(
                        m.CatalogChange.version > since
                    )
                }
            )
            rows = (
                list(m.Station.select().where(m.Station.id.in_(changed)).order_by(m.Station.id))
                if changed
                else []
            )
            present = {r.id for r in rows}
            return version, self._stations(rows), [i for i in changed if i not in present]

    def station_states(
        self, place_ids: Iterable[str], span
    ) -> tuple[dict[str, str], list[tuple[str, str, datetime, datetime]]]:
        """What changes often at stations in ``place_ids``: the status of those not
        available, and (station id, connector id, window) of every active reservation that
        overlaps ``span``. Two queries, whatever the number of stations."""
        places = list(place_ids)
        status = {
            r.id: r.status
            for r in m.Station.select(m.Station.id, m.Station.status).where(
                m.Station.place_id.in_(places), m.Station.status != "available"
            )
        }
        r = m.Reservation
        q = (
            r.select(r.station_id, r.connector_id, r.start_at, r.end_at)
            .join(m.Station, on=(r.station_id == m.Station.id))
            .where(
                m.Station.place_id.in_(places),
                r.state.in_(ACTIVE_VALUES),
                r.start_at < span.end,
                r.end_at > span.start,
            )
        )
        return status, cast(
            list[tuple[str, str, datetime, datetime]], self.raw_rows(q, times=(2, 3))
        )

    def set_station_status(self, station_id: str, status: str) -> None:
        m.Station.update(status=status).where(m.Station.id == station_id).execute()

    def _stations(self, rows: list[m.Station]) -> list[Station]:
        by_station: dict[str, list[Connector]] = {r.id: [] for r in rows}
        if rows:
            for c in (
                m.Connector.select()
                .where(m.Connector.station.in_(list(by_station)))
                .order_by(m.Connector.id)
            ):
                by_station[c.station_id].append(_connector(c))
        return [
            Station(
                id=r.id,
                company=r.company,
                place_id=r.place_id,
                name=r.name,
                lat=r.lat,
                lon=r.lon,
                status=r.status,
                connectors=tuple(by_station[r.id]),
            )
            for r in rows
        ]

    def connector_places(
        self, connector_ids: Iterable[str]
    ) -> dict[str, tuple[Connector, str, str]]:
        """connector id -> (connector, its station's status, its station's place), one query
        (every prepare's: built once)."""
        ids = list(connector_ids)
        if not ids:
            return {}
        return {
            r.id: (
                Connector(r.id, r.station_id, r.power_kw, r.price_per_kwh, r.standard),
                r.status,
                r.place_id,
            )
            for r in _CONNECTOR_PLACES.rows(self.db, (len(ids),), ids=ids)
        }


def _connector_places(sqlite: bool, count: int) -> peewee.Node:
    c, s = m.Connector, m.Station
    return (
        c.select(c.id, c.station, c.power_kw, c.price_per_kwh, c.standard, s.status, s.place_id)
        .join(s)
        .where(c.id.in_(slots("ids", count)))
    )


_CONNECTOR_PLACES = Statement(_connector_places)


def fn_exists_connector_at_least(power_kw: float):
    sub = m.Connector.select(m.Connector.id).where(
        (m.Connector.station == m.Station.id) & (m.Connector.power_kw >= power_kw)
    )
    return peewee.fn.EXISTS(sub)


def _connector(row: m.Connector) -> Connector:
    return Connector(
        id=row.id,
        station_id=row.station_id,
        power_kw=row.power_kw,
        price_per_kwh=row.price_per_kwh,
        standard=row.standard,
    )
