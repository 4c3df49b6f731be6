"""Stations and availability."""

from __future__ import annotations

from handlers import serialize
from handlers.context import current
from service import stations as svc


def list_stations(place=None, company=None, min_power_kw=None, limit=100, offset=0):
    ctx = current()
    items, total = svc.list_stations(ctx, place=place, company=company,
                                     min_power_kw=min_power_kw, limit=limit, offset=offset)
    return serialize.ok({"items": [serialize.station(s, ctx.reference) for s in items],
                         "total": total, "limit": limit, "offset": offset})


def create_station(body):
    ctx = current()
    station = svc.create_station(ctx, place_id=body["place_id"], connectors=body["connectors"],
                                 name=body.get("name"), station_id=body.get("id"))
    return serialize.ok(serialize.station(station, ctx.reference), 201,
                        {"Location": f"/api/v1/stations/{station.id}"})


def get_station(station_id):
    ctx = current()
    return serialize.ok(serialize.station(svc.get_station(ctx, station_id), ctx.reference))


def availability(station_id, to=None, **query):
    ctx = current()
    start = serialize.parse_time(query["from"], "from") if query.get("from") else None
    end = serialize.parse_time(to, "to") if to else None
    station, span, per_connector = svc.availability(ctx, station_id, start, end)
    return serialize.ok({
        "station_id": station.id, "company": station.company,
        "from": serialize.iso(span.start), "to": serialize.iso(span.end),
        "connectors": [
            {"connector_id": c.id, "power_kw": c.power_kw, "price_per_kwh": c.price_per_kwh,
             "free": [serialize.window(w) for w in free],
             "busy": [serialize.window(w) for w in busy]}
            for c, free, busy in per_connector],
    })
