"""Every company's stations with their connectors' free windows, gathered in parallel.

Planning and the alternatives offered to a refused booking both need this view, for the
places they can use (a trip's corridor, a refused leg's neighbourhood). What changes rarely
(stations, connectors, power, price) comes from this server's copy of each peer's catalog
(``service.catalogs.peer_catalogs``); what changes often (statuses, busy windows) is asked of each company
in one ``POST /availability`` for those places, all companies at once, with a timeout. Peers
that fail are named, never silently dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from booking.availability import free_windows
from booking.errors import DomainError
from booking.model import Window
from federation import PeerError
from service.company import fanout, inputs
from service.company.context import Context


@dataclass
class FreeConnector:
    id: str
    power_kw: float
    price_per_kwh: float
    standard: str
    free: list[Window]


@dataclass
class FreeStation:
    id: str
    company: str
    place_id: str
    status: str
    connectors: list[FreeConnector] = field(default_factory=list)


@dataclass
class Part:
    """One company's answer to a gather: its static stations at the asked places (from the
    copy of its catalog, at ``version``) and what changes often (statuses that are not
    "available", busy windows per connector)."""

    company: str
    version: int
    stations: list[dict]
    unavailable: dict[str, str]
    # connector id -> its busy windows as (start, end) POSIX seconds, in order (plans turn
    # thousands of them into minutes after departure: floats, not datetimes)
    busy: dict[str, list[tuple[float, float]]]
    # stations with a busy connector: given (this company's), or found from ``station_of``
    # (connector id -> station id of a peer's copy) when asked: plans never ask
    busy_stations: set[str] | None = None
    # the company's whole catalog at ``version`` (one list object per version: plans index it
    # once) and the places asked (None: all); ``stations`` are those at the places
    catalog: list[dict] | None = None
    places: list[str] | None = None
    station_of: dict[str, str] | None = None

    def reserved_stations(self) -> set[str]:
        if self.busy_stations is None:
            station_of = self.station_of or {}
            self.busy_stations = {station_of[c] for c in self.busy if c in station_of}
        return self.busy_stations


@dataclass
class Catalog:
    parts: list[Part]
    span: Window
    asked: list[str]
    missing: dict[str, str]  # company -> why it is left out

    @property
    def stations(self) -> list[FreeStation]:
        """Every station with its connectors' free windows in the span."""
        return [station for part in self.parts for station in _free_stations(part, self.span)]


def local_free(ctx: Context, span: Window, place: str | None = None) -> list[FreeStation]:
    """This company's stations (at ``place``, or all) with their free windows in ``span``."""
    with ctx.store.connection():
        stations, _ = ctx.store.list_stations(place_ids=[place] if place else None)
        busy = ctx.store.active_reservations([c.id for s in stations for c in s.connectors], span)
    by_connector: dict[str, list[Window]] = {}
    for r in busy:
        by_connector.setdefault(r.connector_id, []).append(r.window)
    return [
        FreeStation(
            s.id,
            s.company,
            s.place_id,
            s.status,
            [
                FreeConnector(
                    c.id,
                    c.power_kw,
                    c.price_per_kwh,
                    c.standard,
                    free_windows(by_connector.get(c.id, []), span),
                )
                for c in s.connectors
            ],
        )
        for s in stations
    ]


def local_states(ctx: Context, span: Window, places: list[str] | None) -> dict:
    """What changes often at this company's stations at ``places`` (all when None), in the
    shape of ``POST /availability``: the statuses that are not "available" and every active
    reservation's connector and window in ``span``. Two queries."""
    version, status, busy, _ = _local_states(ctx, span, places)
    return {
        "company": ctx.company,
        "catalog_version": version,
        "from": inputs.iso(span.start),
        "to": inputs.iso(span.end),
        "unavailable": status,
        "busy": [
            [connector, _text(start), _text(end)]
            for connector, windows in busy.items()
            for start, end in windows
        ],
    }


def _local_states(
    ctx: Context, span: Window, places: list[str] | None
) -> tuple[int, dict[str, str], dict[str, list[tuple[float, float]]], set[str]]:
    with ctx.store.connection():
        version = ctx.store.catalog_version()
        status, rows = ctx.store.station_states(
            places if places is not None else list(ctx.reference.network.places), span
        )
    busy: dict[str, list[tuple[float, float]]] = {}
    for _station, connector, start, end in rows:
        busy.setdefault(connector, []).append((start.timestamp(), end.timestamp()))
    for windows in busy.values():
        windows.sort()
    return version, status, busy, {row[0] for row in rows}


def own_catalog(ctx: Context, version: int) -> tuple[int, list[dict]]:
    """This company's static catalog, from memory while its ``version`` is unchanged."""
    cached = ctx.catalogs.own
    if cached is not None and cached[0] == version:
        return cached
    with ctx.store.connection():
        version, stations, _ = ctx.store.catalog_changes(None)
    ctx.catalogs.own = (version, [static_station(s) for s in stations])
    return ctx.catalogs.own


def static_station(s) -> dict:
    """A station as the catalog lists it: what changes rarely (no status, no windows)."""
    return {
        "id": s.id,
        "company": s.company,
        "place_id": s.place_id,
        "name": s.name,
        "lat": s.lat,
        "lon": s.lon,
        "connectors": [
            {
                "id": c.id,
                "power_kw": c.power_kw,
                "price_per_kwh": c.price_per_kwh,
                "standard": c.standard,
            }
            for c in s.connectors
        ],
    }


def _local(ctx: Context, span: Window, places: list[str] | None) -> Part:
    version, status, busy, busy_stations = _local_states(ctx, span, places)
    version, mine = own_catalog(ctx, version)
    wanted = None if places is None else set(places)
    stations = [s for s in mine if wanted is None or s["place_id"] in wanted]
    return Part(ctx.company, version, stations, status, busy, busy_stations, mine, places)


def _peer(ctx: Context, company: str, span: Window, places: list[str] | None) -> Part:
    copy = ctx.catalogs.ready(ctx, company)
    if copy.version is None:
        raise PeerError(f"its catalog could not be synchronised: {copy.error}")
    states = ctx.gateway.availability(ctx, company, span, places)
    if int(states.get("catalog_version", 0)) > (copy.version or 0):
        # our copy is behind the answer: catch up first (one small request), so a station
        # removed meanwhile is not offered (a booking's prepare would refuse it anyway)
        ctx.catalogs.sync(ctx, company)
    wanted = None if places is None else set(places)
    part = _part(company, copy.version or 0, copy.at_places(wanted), states)
    part.catalog, part.places, part.station_of = copy.ordered, places, copy.station_of
    return part


def _part(company: str, version: int, stations: list[dict], states: dict) -> Part:
    unavailable = states.get("unavailable", {})
    if not isinstance(unavailable, dict):
        raise ValueError("'unavailable' must map station ids to statuses")
    busy: dict[str, list[tuple[float, float]]] = {}
    for connector, start, end in states.get("busy", []):
        window = (_seconds(start), _seconds(end))
        if not window[0] < window[1]:
            raise ValueError(f"a busy window of {connector} ends before it starts")
        busy.setdefault(str(connector), []).append(window)
    for windows in busy.values():
        windows.sort()
    return Part(company, version, stations, {str(k): str(v) for k, v in unavailable.items()}, busy)


def _free_stations(part: Part, span: Window) -> list[FreeStation]:
    whole = [span]
    return [
        FreeStation(
            item["id"],
            part.company,
            item["place_id"],
            part.unavailable.get(item["id"], "available"),
            [
                FreeConnector(
                    c["id"],
                    c["power_kw"],
                    c["price_per_kwh"],
                    c.get("standard", "CCS2"),
                    free_windows([Window(_utc(a), _utc(b)) for a, b in part.busy[c["id"]]], span)
                    if c["id"] in part.busy
                    else list(whole),
                )
                for c in item["connectors"]
            ],
        )
        for item in part.stations
    ]


def gather(ctx: Context, span: Window, places: list[str] | None = None) -> Catalog:
    """Every company's stations at ``places`` (all when None) with their free windows in
    ``span``: static parts from this server's copies, dynamic parts asked of each company in
    one request, all at once. A company that fails is named, never silently dropped."""
    peers = [c for c in ctx.peers() if c != ctx.company]
    outcomes = fanout.fan_out(
        ctx,
        {
            ctx.company: (_local, ctx, span, places),
            **{c: (_peer, ctx, c, span, places) for c in peers},
        },
        ctx.timing.peer_timeout + 1,
        local=ctx.company,
    )
    parts = [outcomes.pop(ctx.company).result()]
    missing: dict[str, str] = {}
    for company, out in outcomes.items():
        if out.silent:
            missing[company] = f"did not answer within {ctx.timing.peer_timeout:g} s"
            continue
        try:
            parts.append(out.result())
        except PeerError as exc:
            missing[company] = str(exc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, DomainError) as exc:
            missing[company] = f"sent a malformed answer: {exc!r}"
    return Catalog(parts, span, [ctx.company, *peers], missing)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# Every plan sends (and reads) the same reservations' times again, thousands of them: each
# time's text and POSIX seconds are kept, the least recently used forgotten past the bound.
_TIMES_KEPT = 50_000  # about 7 MB each at most


@functools.lru_cache(maxsize=_TIMES_KEPT)
def _text(seconds: float) -> str:
    return inputs.iso(_utc(seconds))


@functools.lru_cache(maxsize=_TIMES_KEPT)
def _seconds(text: str) -> float:
    return _time(text).timestamp()


def _time(text: str) -> datetime:
    """A peer's time (RFC 3339 with an offset); plans read thousands, so no more checks."""
    out = datetime.fromisoformat(text)
    if out.tzinfo is None:
        raise ValueError(f"a time without an offset: {text!r}")
    return out
