"""Every company's stations with their connectors' free windows, gathered in parallel.

Planning and the alternatives offered to a refused booking both need this view. This
company's part comes from its database; each peer's from ``GET /stations?free_from&free_to``
with a timeout. Peers that fail are named, never silently dropped.
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


def gather(ctx: Context, span: Window, place: str | None = None) -> Catalog:
    peers = [c for c in ctx.peers() if c != ctx.company]
    outcomes = fanout.fan_out(
        ctx, {ctx.company: (local_free, ctx, span, place),
              **{c: (ctx.gateway.stations_with_free, ctx, c, span, place) for c in peers}},
        ctx.timing.peer_timeout + 1, local=ctx.company)
    stations = list(outcomes.pop(ctx.company).result())
    missing: dict[str, str] = {}
    for company, out in outcomes.items():
        if out.silent:
            missing[company] = f"did not answer within {ctx.timing.peer_timeout:g} s"
            continue
        try:
            stations.extend(_parse(company, item) for item in out.result())
        except PeerError as exc:
            missing[company] = str(exc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
                DomainError) as exc:
            missing[company] = f"sent a malformed station list: {exc!r}"
    return Catalog(stations, [ctx.company, *peers], missing)


def _time(text: str) -> datetime:
    return inputs.parse_time(text, "free window")


def _number(value) -> float:
    """A peer's number: finite, or the whole reply is malformed."""
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"not a usable number: {value!r}")
    return out


def _parse(company: str, item: dict) -> FreeStation:
    if item["company"] != company:
        raise ValueError(f"station {item['id']} claims company {item['company']}")
    return FreeStation(item["id"], company, item["place_id"], item.get("status", "available"), [
        FreeConnector(c["id"], _number(c["power_kw"]), _number(c["price_per_kwh"]),
                      c.get("standard", "CCS2"),
                      [Window(_time(w["start"]), _time(w["end"])) for w in c.get("free", [])])
        for c in item["connectors"]])
