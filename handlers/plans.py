"""POST /plans."""

from __future__ import annotations

from datetime import timedelta

from handlers import serialize
from handlers.context import current
from service import planning


def create_plan(body):
    ctx = current()
    departure = serialize.parse_time(body["departure"], "departure")
    result, cat = planning.plan_trip(
        ctx, body["origin"], body["destination"], departure, body["vehicle"],
        reserve_soc=body.get("reserve_soc", 0.1), arrival_soc=body.get("arrival_soc"),
        options=body.get("options", 3), avoid_companies=body.get("avoid_companies"))
    answer = {"options": [_option(o, rank, departure) for rank, o in
                          enumerate(result.options, start=1)],
              "companies_asked": cat.asked,
              "companies_missing": [{"company": c, "reason": why}
                                    for c, why in sorted(cat.missing.items())]}
    if result.infeasible:
        answer["infeasible"] = result.infeasible
    return serialize.ok(answer)


def _at(departure, minutes):
    return serialize.iso(departure + timedelta(minutes=minutes))


def _option(o, rank, departure):
    stops = [{
        "station_id": s.station_id, "company": s.company, "place_id": s.place_id,
        "connector_id": s.connector_id, "power_kw": s.power_kw,
        "arrival": _at(departure, s.arrival_min), "soc_arrival": round(s.soc_arrival, 4),
        "soc_target": round(s.soc_target, 4), "wait_minutes": round(s.wait_min, 1),
        "charge_minutes": round(s.charge_min, 1), "departure": _at(departure, s.end_min),
        "window": {"start": _at(departure, s.start_min), "end": _at(departure, s.end_min)},
        "energy_kwh": round(s.energy_kwh, 2), "cost": round(s.cost, 2)} for s in o.stops]
    return {
        "rank": rank, "label": o.label, "route": o.route, "stops": stops,
        "totals": {"distance_km": round(o.distance_km, 1), "drive_minutes": round(o.drive_min, 1),
                   "charge_minutes": round(o.charge_min, 1), "wait_minutes": round(o.wait_min, 1),
                   "total_minutes": round(o.total_min, 1), "cost": round(o.cost, 2),
                   "arrival": _at(departure, o.total_min), "soc_arrival": round(o.soc_arrival, 4)},
        "legs": [{"company": s["company"], "station_id": s["station_id"],
                  "connector_id": s["connector_id"], "start": s["window"]["start"],
                  "end": s["window"]["end"]} for s in stops],
    }
