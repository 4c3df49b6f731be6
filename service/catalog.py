"""Every company's stations with their connectors' free windows, gathered in parallel.

Planning and the alternatives offered to a refused booking both need this view, for the
places they can use (a trip's corridor, a refused leg's neighbourhood). What changes rarely
(stations, connectors, power, price) comes from this server's copy of each peer's catalog
(``service.replica``); what changes often (statuses, busy windows) is asked of each company
in one ``POST /availability`` for those places, all companies at once, with a timeout. Peers
that fail are named, never silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from booking.availability import free_windows
from booking.errors import DomainError
from booking.model import Window
from federation import PeerError
from service import fanout, inputs
from service.context import Context


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
class Catalog:
    stations: list[FreeStation]
    asked: list[str]
    missing: dict[str, str]  # company -> why it is left out


def local_free(ctx: Context, span: Window, place: str | None = None) -> list[FreeStation]:
    """This company's stations (at ``place``, or all) with their free windows in ``span``."""
    with ctx.store.connection():
        stations, _ = ctx.store.list_stations(place_ids=[place] if place else None)
        busy = ctx.store.active_reservations(
            [c.id for s in stations for c in s.connectors], span)
    by_connector: dict[str, list[Window]] = {}
    for r in busy:
        by_connector.setdefault(r.connector_id, []).append(r.window)
    return [FreeStation(s.id, s.company, s.place_id, s.status, [
        FreeConnector(c.id, c.power_kw, c.price_per_kwh, c.standard,
                      free_windows(by_connector.get(c.id, []), span))
        for c in s.connectors]) for s in stations]


def local_states(ctx: Context, span: Window, places: list[str] | None) -> dict:
    """What changes often at this company's stations at ``places`` (all when None), in the
    shape of ``POST /availability``: the statuses that are not "available" and every active
    reservation's connector and window in ``span``. Two queries."""
    with ctx.store.connection():
        version = ctx.store.catalog_version()
        status, busy = ctx.store.station_states(
            places if places is not None else list(ctx.reference.network.places), span)
    return {"company": ctx.company, "catalog_version": version,
            "from": inputs.iso(span.start), "to": inputs.iso(span.end),
            "unavailable": status,
            "busy": [[connector, inputs.iso(start), inputs.iso(end)]
                     for _station, connector, start, end in busy]}


def _own_catalog(ctx: Context) -> list[dict]:
    """This company's static catalog, from memory while its version is unchanged."""
    with ctx.store.connection():
        version = ctx.store.catalog_version()
    cached = ctx.replica.own
    if cached is not None and cached[0] == version:
        return cached[1]
    with ctx.store.connection():
        version, stations, _ = ctx.store.catalog_changes(None)
    items = [static_station(s) for s in stations]
    ctx.replica.own = (version, items)
    return items


def static_station(s) -> dict:
    """A station as the catalog lists it: what changes rarely (no status, no windows)."""
    return {"id": s.id, "company": s.company, "place_id": s.place_id, "name": s.name,
            "lat": s.lat, "lon": s.lon,
            "connectors": [{"id": c.id, "power_kw": c.power_kw,
                            "price_per_kwh": c.price_per_kwh, "standard": c.standard}
                           for c in s.connectors]}


def _local(ctx: Context, span: Window, places: list[str] | None) -> list[FreeStation]:
    mine = _own_catalog(ctx)
    wanted = None if places is None else set(places)
    stations = [s for s in mine if wanted is None or s["place_id"] in wanted]
    return _combine(ctx.company, stations, local_states(ctx, span, places), span)


def _peer(ctx: Context, company: str, span: Window, places: list[str] | None
          ) -> list[FreeStation]:
    copy = ctx.replica.ready(ctx, company)
    if copy.version is None:
        raise PeerError(f"its catalog could not be synchronised: {copy.error}")
    states = ctx.gateway.availability(ctx, company, span, places)
    if int(states.get("catalog_version", 0)) > (copy.version or 0):
        # our copy is behind the answer: catch up first (one small request), so a station
        # removed meanwhile is not offered (a booking's prepare would refuse it anyway)
        ctx.replica.sync(ctx, company)
    wanted = None if places is None else set(places)
    return _combine(company, copy.at_places(wanted), states, span)


def _combine(company: str, stations: list[dict], states: dict, span: Window
             ) -> list[FreeStation]:
    """Static stations plus their dynamic state: statuses and busy windows to free windows."""
    unavailable = states.get("unavailable", {})
    if not isinstance(unavailable, dict):
        raise ValueError("'unavailable' must map station ids to statuses")
    busy: dict[str, list[Window]] = {}
    for connector, start, end in states.get("busy", []):
        busy.setdefault(str(connector), []).append(Window(_time(start), _time(end)))
    out = []
    for item in stations:
        if item["company"] != company:
            raise ValueError(f"station {item['id']} claims company {item['company']}")
        out.append(FreeStation(item["id"], company, item["place_id"],
                               str(unavailable.get(item["id"], "available")), [
            FreeConnector(c["id"], _number(c["power_kw"]), _number(c["price_per_kwh"]),
                          c.get("standard", "CCS2"),
                          free_windows(sorted(busy.get(c["id"], []),
                                              key=lambda w: w.start), span))
            for c in item["connectors"]]))
    return out


def gather(ctx: Context, span: Window, places: list[str] | None = None) -> Catalog:
    """Every company's stations at ``places`` (all when None) with their free windows in
    ``span``: static parts from this server's copies, dynamic parts asked of each company in
    one request, all at once. A company that fails is named, never silently dropped."""
    peers = [c for c in ctx.peers() if c != ctx.company]
    outcomes = fanout.fan_out(
        ctx, {ctx.company: (_local, ctx, span, places),
              **{c: (_peer, ctx, c, span, places) for c in peers}},
        ctx.timing.peer_timeout + 1, local=ctx.company)
    stations = list(outcomes.pop(ctx.company).result())
    missing: dict[str, str] = {}
    for company, out in outcomes.items():
        if out.silent:
            missing[company] = f"did not answer within {ctx.timing.peer_timeout:g} s"
            continue
        try:
            stations.extend(out.result())
        except PeerError as exc:
            missing[company] = str(exc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
                DomainError) as exc:
            missing[company] = f"sent a malformed answer: {exc!r}"
    return Catalog(stations, [ctx.company, *peers], missing)


def _time(text: str) -> datetime:
    return inputs.parse_time(text, "free window")


def _number(value) -> float:
    """A peer's number: finite, or the whole reply is malformed."""
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"not a usable number: {value!r}")
    return out
