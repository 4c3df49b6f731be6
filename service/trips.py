"""POST /plans as a use case: gather every company's chargers and free windows, then plan."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.availability import gaps
from booking.errors import InvalidRequest
from booking.model import Window
from planning import Car, Charger, ChargerConnector, PlanResult, TripRequest, plan, profiles
from planning.model import SPEED_KMH
from service import catalog
from service.context import Context
from service.inputs import iso, parse_time

HORIZON = timedelta(hours=48)


def vehicle_car(ctx: Context, spec: dict) -> Car:
    """A catalogue model and/or explicit figures (explicit figures win). A driving ``profile``
    turns the rated consumption into that way of driving's (a measured consumption wins)."""
    model = ctx.reference.vehicles.get(spec.get("model_id", ""))
    battery = spec.get("battery_kwh") or (model and model.battery_kwh)
    consumption = spec.get("consumption_kwh_per_km")
    if not consumption and model:
        consumption = model.consumption_kwh_per_km
        if spec.get("profile"):
            consumption = profiles.consumption_kwh_per_km(consumption, spec["profile"])
    max_kw = spec.get("max_charge_kw") or (model and model.max_charge_kw)
    if not (battery and consumption and max_kw):
        raise InvalidRequest("give vehicle.model_id or battery_kwh, consumption_kwh_per_km "
                             "and max_charge_kw")
    return Car(float(battery), float(consumption), float(max_kw),
               float(model.max_ac_kw) if model else min(11.0, float(max_kw)))


def cruise_kmh(spec: dict) -> float:
    """The average speed between places: the driving profile's, else the planner's default."""
    profile = profiles.PROFILES.get(spec.get("profile", ""))
    return profile.cruise_kmh if profile else SPEED_KMH


def chargers(ctx: Context, cat: catalog.Catalog, departure: datetime) -> list[Charger]:
    """The planner's view: free windows in minutes after departure; offline stations left out.

    Two connectors of one company at one place that are both free throughout the span and
    offer the same power, price and standard are interchangeable for the planner: it gets the
    first only (a dense catalog has hundreds per place, a handful of distinct offers). Busy
    connectors always come, each with its own windows. A station whose connectors all come and
    none is busy is the same for every plan: its ``Charger`` is built once per catalog version
    and shared (the planner only reads it); the others are built per plan from the shared
    connectors.
    """
    out = []
    start = (cat.span.start - departure).total_seconds() / 60
    end = (cat.span.end - departure).total_seconds() / 60
    zero = departure.timestamp()
    for part in cat.parts:
        shared = ctx.replica.free_chargers(part.company, part.version, start, end - start)
        offered: set[tuple] = set()  # (place, power, price, standard) of free connectors
        for item in part.stations:
            if part.unavailable.get(item["id"]) == "offline":
                continue
            free = shared.get(item["id"])
            if free is None:
                free = shared[item["id"]] = _charger(part.company, item, [(start, end)])
            kept = []
            for c in free.connectors:
                if c.connector_id in part.busy:
                    kept.append(ChargerConnector(
                        c.connector_id, c.power_kw, c.price_per_kwh, c.standard,
                        gaps([((a - zero) / 60, (b - zero) / 60)
                               for a, b in part.busy[c.connector_id]], start, end)))
                    continue
                offer = (free.place_id, c.power_kw, c.price_per_kwh, c.standard)
                if offer not in offered:
                    offered.add(offer)
                    kept.append(c)
            if len(kept) == len(free.connectors) and item["id"] not in part.busy_stations:
                out.append(free)
            elif kept:
                out.append(Charger(free.station_id, free.company, free.place_id, kept))
    return out


def _charger(company: str, item: dict, free: list[tuple[float, float]]) -> Charger:
    """A station of a catalog as the planner sees it, every connector free in ``free``."""
    return Charger(item["id"], company, item["place_id"], [
        ChargerConnector(c["id"], c["power_kw"], c["price_per_kwh"], c.get("standard", "CCS2"),
                         free) for c in item["connectors"]])


CORRIDOR_SLACK_KM = 150.0  # a stop may lengthen the trip by this much (or a quarter of it)


def corridor(ctx: Context, origin: str, destination: str) -> list[str] | None:
    """The places a trip can stop at: those whose detour (origin → place → destination
    against the shortest road) is within max(150 km, a quarter of the trip). A plan asks the
    companies only about their stations there. None (every place) when either end is not a
    place of the network (the planner then says why)."""
    places = ctx.reference.network.places
    if origin not in places or destination not in places:
        return None
    oracle = ctx.reference.distances
    from_origin, to_destination = oracle.row(origin), oracle.row(destination)
    shortest = float(from_origin[oracle.index[destination]])
    if shortest == float("inf"):
        return None
    bound = shortest + max(CORRIDOR_SLACK_KM, 0.25 * shortest)
    detour = from_origin + to_destination
    return [pid for i, pid in enumerate(oracle.ids) if detour[i] <= bound]


def plan_trip(ctx: Context, origin: str, destination: str, departure: datetime, vehicle: dict,
              reserve_soc: float = 0.1, arrival_soc: float | None = None, options: int = 3,
              avoid_companies: list[str] | None = None) -> tuple[PlanResult, catalog.Catalog]:
    """Plan over every company that answers in time; the catalogue names those that did not."""
    req = TripRequest(origin=origin, destination=destination, departure=departure,
                      car=vehicle_car(ctx, vehicle), soc=float(vehicle["soc"]),
                      speed_kmh=cruise_kmh(vehicle),
                      reserve_soc=reserve_soc, arrival_soc=arrival_soc, options=options,
                      avoid_companies=frozenset(avoid_companies or ()))
    network = ctx.reference.network
    cat = catalog.gather(ctx, Window(departure, departure + HORIZON),
                         corridor(ctx, origin, destination))
    return plan(network, chargers(ctx, cat, departure), req, ctx.reference.distances), cat


def plan_answer(ctx: Context, body: dict) -> dict:
    """A plan request in its JSON shape (REST body or MQTT payload) to the JSON answer."""
    departure = parse_time(body["departure"], "departure")
    result, cat = plan_trip(
        ctx, body["origin"], body["destination"], departure, body["vehicle"],
        reserve_soc=body.get("reserve_soc", 0.1), arrival_soc=body.get("arrival_soc"),
        options=body.get("options", 3), avoid_companies=body.get("avoid_companies"))
    answer: dict[str, object] = {"options": [_option(o, rank, departure) for rank, o in
                          enumerate(result.options, start=1)],
              "companies_asked": cat.asked,
              "companies_missing": [{"company": c, "reason": why}
                                    for c, why in sorted(cat.missing.items())]}
    if result.infeasible:
        answer["infeasible"] = result.infeasible
    return answer


def _at(departure, minutes):
    return iso(departure + timedelta(minutes=minutes))


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
