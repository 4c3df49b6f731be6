"""Stations and availability."""

from __future__ import annotations

from booking.errors import InvalidRequest
from booking.model import Window
from handlers import serialize
from handlers.current import current
from service.catalogs import catalog
from service.catalogs import stations as svc


def list_stations(
    place=None, company=None, min_power_kw=None, limit=100, offset=0, free_from=None, free_to=None
):
    ctx = current()
    items, total = svc.list_stations(
        ctx, place=place, company=company, min_power_kw=min_power_kw, limit=limit, offset=offset
    )
    body = [serialize.station(s, ctx.reference) for s in items]
    if free_from or free_to:
        span = _span(free_from, free_to)
        free = {s.id: s for s in catalog.local_free(ctx, span, place)}
        for item in body:
            connectors = (
                {c.id: c for c in free[item["id"]].connectors} if item["id"] in free else {}
            )
            for c in item["connectors"]:
                windows = connectors[c["id"]].free if c["id"] in connectors else []
                c["free"] = [serialize.window(w) for w in windows]
    return serialize.ok({"items": body, "total": total, "limit": limit, "offset": offset})


def _span(free_from, free_to) -> Window:
    if not (free_from and free_to):
        raise InvalidRequest("give both 'free_from' and 'free_to' (or neither)")
    return svc.span(
        serialize.parse_time(free_from, "free_from"),
        serialize.parse_time(free_to, "free_to"),
        ("free_from", "free_to"),
    )


def create_station(body):
    ctx = current()
    station = svc.create_station(
        ctx,
        place_id=body["place_id"],
        connectors=body["connectors"],
        name=body.get("name"),
        station_id=body.get("id"),
    )
    return serialize.ok(
        serialize.station(station, ctx.reference),
        201,
        {"Location": f"/api/v1/stations/{station.id}"},
    )


def get_station(station_id):
    ctx = current()
    return serialize.ok(serialize.station(svc.get_station(ctx, station_id), ctx.reference))


def availability(station_id, from_=None, to=None):
    ctx = current()
    start = serialize.parse_time(from_, "from") if from_ else None
    end = serialize.parse_time(to, "to") if to else None
    station, span, per_connector = svc.availability(ctx, station_id, start, end)
    return serialize.ok(
        {
            "station_id": station.id,
            "company": station.company,
            "from": serialize.iso(span.start),
            "to": serialize.iso(span.end),
            "connectors": [
                {
                    "connector_id": c.id,
                    "power_kw": c.power_kw,
                    "price_per_kwh": c.price_per_kwh,
                    "free": [serialize.window(w) for w in free],
                    "busy": [serialize.window(w) for w in busy],
                }
                for c, free, busy in per_connector
            ],
        }
    )


def update_station(station_id, body):
    ctx = current()
    station = svc.update_station(ctx, station_id, body.get("name"), body.get("connectors", []))
    return serialize.ok(serialize.station(station, ctx.reference))


def delete_station(station_id):
    svc.delete_station(current(), station_id)
    return None, 204
