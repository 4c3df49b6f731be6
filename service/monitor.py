"""The console's read views: the federation's stations (what changes rarely, built once per
set of catalog versions) and their live status, this company's connectors' reservations on a
timeline, the federation panel, and one booking's legs at every
company. Read-only; the console polls them (docs/console.md says why polling, and how often).

The map's statuses come from the same gather a plan uses (``service.catalogs.catalog``): each peer's
stations from this server's copy of its catalog, their statuses and busy windows from one
``POST /availability`` per peer. That answer is shared by every console polling within
``MAP_TTL`` seconds, so N open consoles cost the peers one request each per interval, not N.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from booking.errors import NotFound, Unavailable
from booking.model import Window, utcnow
from federation import PeerError
from service.catalogs import catalog, stations
from service.company import inputs
from service.company.context import Context
from service.protocol import live
from service.protocol.recovery import idle_after

# seconds an answer serves every console asking within it (consoles poll every second, and
# the promise is "within 2 s"): N open consoles cost about what one does
MAP_TTL = 0.5
TIMELINE_VERSION_TTL = 0.5
FEDERATION_TTL = 1.0
CAR_SILENCE = timedelta(minutes=10)  # a car not heard from for this long leaves the map
TIMELINE_DEFAULT = (timedelta(hours=-2), timedelta(hours=24))
RECENT = 20  # transactions shown in the federation panel
PANEL_PEER_TIMEOUT = 1.0  # a silent company: the panel shows what the log says, in time


class Shared:
    """Values computed at most once per ``ttl`` seconds per key, whoever asks (thread-safe;
    one computation at a time, the others wait for it instead of repeating it); the ``size``
    most recent keys are kept."""

    def __init__(self, ttl: float, size: int = 8):
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._values: dict[Any, tuple[float, Any]] = {}

    def get(self, compute: Callable[[], Any], key: Any = None) -> Any:
        with self._lock:
            at, value = self._values.get(key, (0.0, None))
            if value is None or time.monotonic() - at > self.ttl:
                value = compute()
                self._values.pop(key, None)
                self._values[key] = (time.monotonic(), value)
                if len(self._values) > self.size:
                    self._values.pop(next(iter(self._values)))  # the least recently computed
            return value


def _shared(ctx: Context, name: str, ttl: float, size: int = 8) -> Shared:
    return ctx.views.setdefault(name, Shared(ttl, size))


FOREVER = float("inf")  # for values keyed by the version they are built from


def federation_map(ctx: Context) -> dict:
    """What changes on the map: each company's reachability and catalog version, the status of
    every station that is not simply available, and this company's cars."""
    return _shared(ctx, "map", MAP_TTL).get(lambda: _map(ctx))


def _map(ctx: Context) -> dict:
    now = ctx.clock.now()  # "reserved": a window covers the world's now
    gathered = catalog.gather(ctx, Window(now, now + timedelta(seconds=1)))
    status: dict[str, str] = {}
    companies = []
    for part in gathered.parts:
        status.update(dict.fromkeys(part.reserved_stations(), "reserved"))
        status.update(part.unavailable)  # offline or charging say more than reserved
        companies.append(
            {
                "company": part.company,
                "reachable": True,
                "catalog_version": part.version,
                "stations": len(part.stations),
            }
        )
    for company, why in sorted(gathered.missing.items()):
        copy = ctx.catalogs.catalog(company)  # its stations as last copied, status unknown
        companies.append(
            {
                "company": company,
                "reachable": False,
                "reason": why,
                "catalog_version": copy.version,
                "stations": len(copy.stations),
            }
        )
    with ctx.store.connection():
        cars = ctx.store.cars_since(now - CAR_SILENCE)
    return {
        "company": ctx.company,
        "time": inputs.iso(now),
        "companies": sorted(companies, key=lambda c: c["company"]),
        "status": status,
        "cars": [
            {
                "car_id": car,
                "soc": soc,
                "lat": lat,
                "lon": lon,
                "speed_kmh": speed,
                "at": inputs.iso(at),
            }
            for car, soc, lat, lon, speed, at in cars
        ],
    }


def catalog_versions(ctx: Context) -> dict[str, int | None]:
    """This company's catalog version and that of this server's copy of each peer's: what
    the map's stations are drawn from (None: a copy never synchronised)."""
    with ctx.store.connection():
        own = ctx.store.catalog_version()
    peers = sorted(c for c in ctx.peers() if c != ctx.company)
    return {ctx.company: own, **{c: ctx.catalogs.catalog(c).version for c in peers}}


def federation_stations(ctx: Context, versions: dict[str, int | None]) -> dict:
    """Every company's stations on the map (what changes rarely), built once per set of
    catalog ``versions`` and shared by every console."""
    # one set of versions is current: the list of the one before is of no use to anyone
    return _shared(ctx, "stations", FOREVER, size=1).get(
        lambda: _stations(ctx, versions), key=tuple(versions.items())
    )


def _stations(ctx: Context, versions: dict[str, int | None]) -> dict:
    _, own = catalog.own_catalog(ctx, versions[ctx.company] or 0)
    items = [_station(ctx, s, ctx.company) for s in own]
    for company in versions:
        if company != ctx.company:
            copy = ctx.catalogs.catalog(company).at_places(None)
            items.extend(_station(ctx, s, company) for s in copy)
    return {"company": ctx.company, "versions": versions, "stations": items}


def _station(ctx: Context, s: dict, company: str) -> dict:
    """A station on the map, at its place (a peer's catalog names the place, not a point)."""
    place = ctx.reference.network.places.get(s["place_id"])
    return {
        "id": s["id"],
        "company": company,
        "place_id": s["place_id"],
        "name": s.get("name") or s["id"],
        "lat": place.lat if place else s.get("lat", 0.0),
        "lon": place.lon if place else s.get("lon", 0.0),
        "connectors": len(s["connectors"]),
        "max_power_kw": max((c["power_kw"] for c in s["connectors"]), default=0),
    }


def timeline_span(ctx: Context, start=None, end=None) -> Window:
    """The timeline's window: [start, end), by default from two hours ago to 24 h ahead of the
    world's now in whole minutes (so its answer, and its ETag, stays put within a minute); at
    most 14 days."""
    start = start or ctx.clock.now().replace(second=0, microsecond=0) + TIMELINE_DEFAULT[0]
    end = end or start - TIMELINE_DEFAULT[0] + TIMELINE_DEFAULT[1]
    return stations.span(start, end)


class TimelineVersion(NamedTuple):
    """What a timeline is built from: its window, how many reservations meet it and their
    latest change, and this company's catalog version."""

    start: datetime
    end: datetime
    reservations: int
    latest: object  # the latest updated_at, as the database gives it
    catalog: int


def timeline_version(ctx: Context, span: Window) -> TimelineVersion:
    """What the timeline of ``span`` is built from, cheaply: polls compare it and get 304
    without the reservations being read (asked of the database at most every half second)."""
    return _shared(ctx, "timeline version", TIMELINE_VERSION_TTL).get(
        lambda: _timeline_version(ctx, span), key=(span.start, span.end)
    )


def _timeline_version(ctx: Context, span: Window) -> TimelineVersion:
    with ctx.store.connection():
        count, latest = ctx.store.reservations_version(span)
        catalog_version = ctx.store.catalog_version()
    return TimelineVersion(span.start, span.end, count, latest, catalog_version)


def timeline(ctx: Context, span: Window, version: TimelineVersion) -> dict:
    """Every reservation of this company's connectors that meets ``span``, whatever its
    state, with the company that coordinates each booking; the connectors themselves are in
    this company's catalog (``GET /catalog``) at ``catalog_version``. Built once per
    ``version`` (``timeline_version``) and shared by every console asking for that window."""
    return _shared(ctx, "timeline", FOREVER).get(
        lambda: _timeline(ctx, span, version.catalog), key=version
    )


def _timeline(ctx: Context, span: Window, catalog_version: int) -> dict:
    with ctx.store.connection():
        rows = ctx.store.reservations_between(span)
    iso = inputs.iso
    return {
        "company": ctx.company,
        "time": iso(ctx.clock.now()),
        "catalog_version": catalog_version,
        "from": iso(span.start),
        "to": iso(span.end),
        "reservations": [
            {
                "id": rid,
                "connector_id": connector,
                "station_id": station,
                "start": iso(a),
                "end": iso(b),
                "state": state,
                "booking_id": booking,
                "tx_id": tx,
                "leg_index": leg,
                "car_id": car,
                "coordinator": coordinator or ctx.company,
            }
            for rid, connector, station, a, b, state, booking, tx, leg, car, coordinator in rows
        ],
    }


def federation(ctx: Context) -> dict:
    """The federation panel: peers as last heard from, the newest transactions this company
    coordinated (outcome, duration, companies), and what the recovery worker has to do."""
    return _shared(ctx, "federation", FEDERATION_TTL).get(lambda: _federation(ctx))


def _federation(ctx: Context) -> dict:
    now = utcnow()
    with ctx.store.connection():
        txs = ctx.store.recent_transactions(RECENT)
        logged = ctx.store.get_txs([row[0] for row in txs])
        backlog = ctx.store.recovery_backlog(now - idle_after(ctx))
        peers = ctx.store.list_peers()
    # the booking's state as its driver reads it (GET /bookings/{id}): a trip completed at the
    # stations is "completed", whatever the protocol's record says
    booking_state = {
        v["booking_id"]: v["state"] for v in live.views(ctx, logged, PANEL_PEER_TIMEOUT)
    }
    recent = []
    for tx, booking, state, decision, legs, is_open, reason, created, decided in txs:
        legs = json.loads(legs)
        recent.append(
            {
                "tx_id": tx,
                "booking_id": booking,
                "state": state,
                "booking_state": booking_state.get(booking, state),
                "decision": decision,
                "open": bool(is_open),
                "reason": reason,
                "created_at": inputs.iso(created),
                # from the request to the logged decision (None: still deciding or held)
                "duration_ms": (
                    round((decided - created).total_seconds() * 1000) if decided else None
                ),
                "companies": sorted({leg["company"] for leg in legs}),
                "legs": len(legs),
            }
        )
    sweep = dict(ctx.sweeps)
    if sweep.get("at") is not None:
        sweep["at"] = inputs.iso(sweep["at"])
    return {
        "company": ctx.company,
        "time": inputs.iso(now),
        "mqtt": ctx.mqtt_status(),
        "peers": [
            {
                "company": p["company"],
                "url": p["url"],
                "last_ok_at": inputs.iso(p["last_ok_at"]),
                "last_error": p["last_error"],
                "catalog": _catalog_view(ctx.catalogs.catalog(p["company"]).view()),
            }
            for p in sorted(peers, key=lambda p: p["company"])
        ],
        "transactions": recent,
        "recovery": {**backlog, "last_sweep": sweep or None},
    }


def _catalog_view(view: dict) -> dict:
    """The copy's state; its age is left to the reader (it would change every poll)."""
    return {k: v for k, v in view.items() if k != "age_seconds"}


def booking_legs(ctx: Context, reservation_id: str) -> dict:
    """The booking a reservation of this company belongs to, with its legs at every company,
    exactly as ``GET /bookings/{id}`` shows it to its driver: its coordinator's answer, each
    leg's live state asked of its company."""
    with ctx.store.connection():
        mine = ctx.store.get_reservation(reservation_id)
        rec = ctx.store.get_participant(mine.tx_id) if mine and mine.tx_id else None
    if mine is None:
        raise NotFound(f"no reservation {reservation_id!r} at company {ctx.company!r}")
    coordinator = rec.coordinator if rec else ctx.company
    view = None
    if mine.tx_id:
        try:
            view = ctx.gateway.coordinator_booking(ctx, coordinator, mine.tx_id)
        except PeerError as exc:
            raise Unavailable(
                f"company {coordinator} did not say what the booking holds: {exc}"
            ) from exc
    return {
        "reservation_id": reservation_id,
        "booking_id": mine.booking_id,
        "coordinator": coordinator,
        "state": (view or {}).get("state"),
        "legs": (view or {}).get("legs", []),
    }
