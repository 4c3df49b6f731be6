"""Stations and their connectors."""

from __future__ import annotations

from collections.abc import Iterable

import peewee

from booking.errors import Conflict
from booking.model import Connector, Station, utcnow
from storage import models as m
from storage.repository import Repository


class StationRepository(Repository):
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


def fn_exists_connector_at_least(power_kw: float):
    sub = m.Connector.select(m.Connector.id).where(
        (m.Connector.station == m.Station.id) & (m.Connector.power_kw >= power_kw))
    return peewee.fn.EXISTS(sub)


def _connector(row: m.Connector) -> Connector:
    return Connector(id=row.id, station_id=row.station_id, power_kw=row.power_kw,
                     price_per_kwh=row.price_per_kwh, standard=row.standard)
