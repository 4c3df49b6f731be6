"""Use cases about this company's stations and their free windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking.availability import free_windows
from booking.errors import InvalidRequest, NotFound
from booking.model import Connector, ReservationState, Station, Window, make_station_id
from service.catalogs import peer_catalogs
from service.catalogs.catalog import local_states, static_station
from service.company import inputs
from service.company.context import Context

MAX_AVAILABILITY_SPAN = timedelta(days=14)


def create_station(
    ctx: Context,
    place_id: str,
    connectors: list[dict],
    name: str | None = None,
    station_id: str | None = None,
) -> Station:
    place = ctx.reference.network.places.get(place_id)
    if place is None:
        raise InvalidRequest(f"unknown place {place_id!r}; see GET /network")
    if name is not None:
        inputs.display_name(name)
    with ctx.store.transaction():
        if station_id is None:
            station_id = _next_station_id(ctx, place_id)
        elif not station_id.startswith(f"{ctx.company}-"):
            raise InvalidRequest(
                f"station ids of company {ctx.company!r} start with '{ctx.company}-'"
            )
        station = Station(
            id=station_id,
            company=ctx.company,
            place_id=place_id,
            name=name or f"{ctx.company.upper()} {place.name} {station_id.rsplit('-', 1)[-1]}",
            lat=place.lat,
            lon=place.lon,
            connectors=tuple(
                Connector(
                    id=f"{station_id}-c{i}",
                    station_id=station_id,
                    power_kw=float(c["power_kw"]),
                    price_per_kwh=float(c["price_per_kwh"]),
                    standard=c.get("standard", "CCS2"),
                )
                for i, c in enumerate(connectors, start=1)
            ),
        )
        ctx.store.add_station(station)
    peer_catalogs.notify_peers(ctx)
    return station


def update_station(
    ctx: Context, station_id: str, name: str | None, connectors: list[dict]
) -> Station:
    """Admin: rename a station, change its connectors' power or price (peers are told)."""
    if name is not None:
        inputs.display_name(name)
    with ctx.store.transaction():
        station = ctx.store.get_station(station_id)
        if station is None:
            raise NotFound(f"no station {station_id!r} at company {ctx.company!r}")
        known = {c.id for c in station.connectors}
        changes: dict[str, dict] = {}
        for item in connectors:
            if item["id"] not in known:
                raise InvalidRequest(f"station {station_id} has no connector {item['id']!r}")
            changes[item["id"]] = {
                k: float(item[k]) for k in ("power_kw", "price_per_kwh") if k in item
            }
        ctx.store.update_station(station_id, name, changes)
        station = ctx.store.get_station(station_id)
    peer_catalogs.notify_peers(ctx)
    assert station is not None
    return station


def delete_station(ctx: Context, station_id: str) -> None:
    """Admin: remove a station with nothing left to honour there (peers are told)."""
    with ctx.store.transaction():
        if ctx.store.get_station(station_id) is None:
            raise NotFound(f"no station {station_id!r} at company {ctx.company!r}")
        ctx.store.delete_station(station_id, ctx.clock.now())
    peer_catalogs.notify_peers(ctx)


def catalog(ctx: Context, since: int | None) -> dict:
    """This company's static catalog, whole or what changed after version ``since``."""
    with ctx.store.connection():
        version, stations, removed = ctx.store.catalog_changes(since)
    return {
        "company": ctx.company,
        "version": version,
        "since": since,
        "stations": [static_station(s) for s in stations],
        "removed": removed,
    }


def catalog_version(ctx: Context) -> int:
    with ctx.store.connection():
        return ctx.store.catalog_version()


def states(ctx: Context, start: datetime, end: datetime, places: list[str] | None) -> dict:
    """``POST /availability``: statuses and busy windows at ``places`` in [start, end)."""
    unknown = [p for p in places or [] if p not in ctx.reference.network.places]
    if unknown:
        raise InvalidRequest(f"unknown places {unknown[:5]}; see GET /network")
    return local_states(ctx, span(start, end), places)


def _next_station_id(ctx: Context, place_id: str) -> str:
    existing, _ = ctx.store.list_stations(place_ids=[place_id], company=ctx.company)
    taken = {s.id for s in existing}
    n = len(existing) + 1
    while make_station_id(ctx.company, place_id, n) in taken:
        n += 1
    return make_station_id(ctx.company, place_id, n)


def get_station(ctx: Context, station_id: str) -> Station:
    with ctx.store.connection():
        station = ctx.store.get_station(station_id)
    if station is None:
        raise NotFound(f"no station {station_id!r} at company {ctx.company!r}")
    return station


def list_stations(
    ctx: Context,
    place: str | None = None,
    company: str | None = None,
    min_power_kw: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Station], int]:
    with ctx.store.connection():
        return ctx.store.list_stations(
            place_ids=[place] if place else None,
            company=company,
            min_power_kw=min_power_kw,
            limit=limit,
            offset=offset,
        )


def span(start: datetime, end: datetime, names: tuple[str, str] = ("from", "to")) -> Window:
    """A span of time someone asks windows for: the one limit for every such question."""
    if end <= start:
        raise InvalidRequest(f"'{names[1]}' must be after '{names[0]}'")
    if end - start > MAX_AVAILABILITY_SPAN:
        raise InvalidRequest(
            f"ask for at most {MAX_AVAILABILITY_SPAN.days} days of windows at once"
        )
    return Window(start, end)


def availability(ctx: Context, station_id: str, start=None, end=None):
    """Per connector: (connector, free windows, busy windows) inside [start, end)."""
    start = start or ctx.clock.now()
    asked = span(start, end or start + timedelta(hours=24))
    with ctx.store.connection():
        station = ctx.store.get_station(station_id)
        if station is None:
            raise NotFound(f"no station {station_id!r} at company {ctx.company!r}")
        busy = ctx.store.active_reservations([c.id for c in station.connectors], asked)
    per_connector = []
    for c in station.connectors:
        mine = [
            Window(max(r.window.start, asked.start), min(r.window.end, asked.end))
            for r in busy
            if r.connector_id == c.id
        ]
        per_connector.append((c, free_windows(mine, asked), mine))
    return station, asked, per_connector


def station_schedule(ctx: Context, station_id: str) -> dict | None:
    """What a station is told over MQTT (its retained ``…/schedule``): for each upcoming
    confirmed or charging window, the connector, the window and the car expected to plug in —
    what it needs to let the right car charge. Nothing about the booking behind it (its id,
    its channel, its driver, its other legs): a station is a device on a shared broker."""
    now = ctx.clock.now()
    with ctx.store.connection():
        station = ctx.store.get_station(station_id)
        if station is None:
            return None
        busy = ctx.store.active_reservations(
            [c.id for c in station.connectors], Window(now, inputs.a_year_after(now))
        )
    windows = [
        {
            "connector_id": r.connector_id,
            "start": inputs.iso(r.window.start),
            "end": inputs.iso(r.window.end),
            "car_id": r.car_id,
            "state": r.state.value,
        }
        for r in sorted(busy, key=lambda r: (r.window.start, r.connector_id))
        if r.state != ReservationState.HELD
    ]
    # two processes of the company may publish one station's schedule at nearly the same
    # time; a station keeps the one read last from the database (the latest as_of)
    # (microseconds always written, so the texts order as the times do)
    as_of = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"station_id": station_id, "as_of": as_of, "windows": windows}
