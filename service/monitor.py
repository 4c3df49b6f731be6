"""The console's read views: the federation's stations with their live status, this company's
connectors' reservations on a timeline, the federation panel, and one booking's legs at every
company. Read-only; the console polls them (docs/console.md says why polling, and how often).

The map's statuses come from the same gather a plan uses (``service.catalog``): each peer's
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
from typing import Any

from booking.errors import NotFound, Unavailable
from booking.model import Window, utcnow
from federation import PeerError
from service import catalog, inputs, stations
from service.context import Context
from service.recovery import idle_after

MAP_TTL = 0.5  # seconds a gathered map serves every console (the console polls each second)
CAR_SILENCE = timedelta(minutes=10)  # a car not heard from for this long leaves the map
TIMELINE_DEFAULT = (timedelta(hours=-2), timedelta(hours=24))
RECENT = 20  # transactions shown in the federation panel


class Shared:
    """A value computed at most once per ``ttl`` seconds, whoever asks (thread-safe; one
    computation at a time, the others wait for it instead of repeating it)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._value: Any = None

    def get(self, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl:
                self._value = compute()
                self._at = time.monotonic()
            return self._value


def federation_map(ctx: Context) -> dict:
    """Every company's stations with their status now, and this company's cars."""
    shared = ctx.views.setdefault("map", Shared(MAP_TTL))
    return shared.get(lambda: _map(ctx))


def _map(ctx: Context) -> dict:
    now = utcnow()
    gathered = catalog.gather(ctx, Window(now, now + timedelta(seconds=1)))
    stations = []
    companies = []
    for part in gathered.parts:
        for s in part.stations:
            status = part.unavailable.get(s["id"]) or (
                "reserved" if s["id"] in part.busy_stations else "available")
            stations.append(_station(ctx, s, part.company, status))
        companies.append({"company": part.company, "reachable": True,
                          "catalog_version": part.version, "stations": len(part.stations)})
    for company, why in sorted(gathered.missing.items()):
        # a peer that did not answer: its stations as last copied, their status unknown
        copy = ctx.replica.catalog(company).at_places(None)
        stations.extend(_station(ctx, s, company, "unreachable") for s in copy)
        companies.append({"company": company, "reachable": False, "reason": why,
                          "catalog_version": ctx.replica.catalog(company).version,
                          "stations": len(copy)})
    with ctx.store.connection():
        cars = ctx.store.cars_since(now - CAR_SILENCE)
    return {"company": ctx.company, "time": inputs.iso(now),
            "companies": sorted(companies, key=lambda c: c["company"]),
            "stations": stations,
            "cars": [{"car_id": car, "soc": soc, "lat": lat, "lon": lon, "speed_kmh": speed,
                      "at": inputs.iso(at)} for car, soc, lat, lon, speed, at in cars]}


def _station(ctx: Context, s: dict, company: str, status: str) -> dict:
    """A station on the map, at its place (a peer's catalog names the place, not a point)."""
    place = ctx.reference.network.places.get(s["place_id"])
    return {"id": s["id"], "company": company, "place_id": s["place_id"],
            "name": s.get("name") or s["id"],
            "lat": place.lat if place else s.get("lat", 0.0),
            "lon": place.lon if place else s.get("lon", 0.0), "status": status,
            "connectors": len(s["connectors"]),
            "max_power_kw": max((c["power_kw"] for c in s["connectors"]), default=0)}


def timeline(ctx: Context, start=None, end=None) -> dict:
    """This company's connectors and every reservation of theirs that meets [start, end),
    whatever its state, with the company that coordinates each booking."""
    now = utcnow()
    start = start or now + TIMELINE_DEFAULT[0]
    end = end or start - TIMELINE_DEFAULT[0] + TIMELINE_DEFAULT[1]
    span = stations.span(start, end)
    with ctx.store.connection():
        version = ctx.store.catalog_version()
        rows = ctx.store.reservations_between(span)
    _, own = catalog.own_catalog(ctx, version)
    return {
        "company": ctx.company, "time": inputs.iso(now),
        "from": inputs.iso(span.start), "to": inputs.iso(span.end),
        "connectors": [{"id": c["id"], "station_id": s["id"], "place_id": s["place_id"],
                        "power_kw": c["power_kw"]} for s in own for c in s["connectors"]],
        "reservations": [
            {"id": rid, "connector_id": connector, "station_id": station,
             "start": inputs.iso(a), "end": inputs.iso(b), "state": state,
             "booking_id": booking, "tx_id": tx, "leg_index": leg, "car_id": car,
             "coordinator": coordinator or ctx.company}
            for rid, connector, station, a, b, state, booking, tx, leg, car, coordinator
            in rows]}


def federation(ctx: Context) -> dict:
    """The federation panel: peers as last heard from, the newest transactions this company
    coordinated (outcome, duration, companies), and what the recovery worker has to do."""
    now = utcnow()
    with ctx.store.connection():
        txs = ctx.store.recent_transactions(RECENT)
        backlog = ctx.store.recovery_backlog(now - idle_after(ctx))
        peers = ctx.store.list_peers()
    recent = []
    for tx, booking, state, decision, legs, is_open, reason, created, decided in txs:
        legs = json.loads(legs)
        recent.append({
            "tx_id": tx, "booking_id": booking, "state": state, "decision": decision,
            "open": bool(is_open), "reason": reason, "created_at": inputs.iso(created),
            # from the request to the logged decision (None: still deciding or held)
            "duration_ms": (round((decided - created).total_seconds() * 1000)
                            if decided else None),
            "companies": sorted({leg["company"] for leg in legs}), "legs": len(legs)})
    sweep = dict(ctx.sweeps)
    if sweep.get("at") is not None:
        sweep["at"] = inputs.iso(sweep["at"])
    return {
        "company": ctx.company, "time": inputs.iso(now), "mqtt": ctx.mqtt_status(),
        "peers": [{"company": p["company"], "url": p["url"],
                   "last_ok_at": inputs.iso(p["last_ok_at"]), "last_error": p["last_error"],
                   "catalog": _catalog_view(ctx.replica.catalog(p["company"]).view())}
                  for p in sorted(peers, key=lambda p: p["company"])],
        "transactions": recent,
        "recovery": {**backlog, "last_sweep": sweep or None},
    }


def _catalog_view(view: dict) -> dict:
    return {**view, "synced_at": inputs.iso(view["synced_at"])}


def booking_legs(ctx: Context, reservation_id: str) -> dict:
    """The booking a reservation of this company belongs to, with its legs at every company,
    as its coordinator knows them (asked of it when it is a peer)."""
    with ctx.store.connection():
        mine = ctx.store.get_reservation(reservation_id)
        rec = ctx.store.get_participant(mine.tx_id) if mine and mine.tx_id else None
    if mine is None:
        raise NotFound(f"no reservation {reservation_id!r} at company {ctx.company!r}")
    coordinator = rec.coordinator if rec else ctx.company
    view = None
    if mine.tx_id:
        try:
            view = ctx.gateway.coordinator_status(ctx, coordinator, mine.tx_id)
        except PeerError as exc:
            raise Unavailable(f"company {coordinator} did not say what the booking holds: "
                              f"{exc}") from exc
    legs = (view or {}).get("legs", [])
    return {"reservation_id": reservation_id, "booking_id": mine.booking_id,
            "coordinator": coordinator, "state": (view or {}).get("state"),
            "legs": [{**leg, "start": _text(leg.get("start")), "end": _text(leg.get("end"))}
                     for leg in legs]}


def _text(when) -> str | None:
    """A time as the API writes it: the local coordinator's are datetimes, a peer's text."""
    return inputs.iso(when) if isinstance(when, datetime) else when
