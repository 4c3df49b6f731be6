"""POST /plans as a use case: gather every company's chargers and free windows, then plan."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from booking.availability import gaps
from booking.errors import InvalidRequest
from booking.model import CLIENT_SLACK, Window
from planning import Car, Charger, ChargerConnector, PlanResult, TripRequest, plan, profiles
from planning.model import SPEED_KMH
from service.catalogs import catalog
from service.company.context import Context
from service.company.inputs import iso, parse_time

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
        raise InvalidRequest(
            "give vehicle.model_id or battery_kwh, consumption_kwh_per_km and max_charge_kw"
        )
    return Car(
        float(battery),
        float(consumption),
        float(max_kw),
        float(model.max_ac_kw) if model else min(11.0, float(max_kw)),
    )


def cruise_kmh(spec: dict) -> float:
    """The average speed between places: the driving profile's, else the planner's default."""
    profile = profiles.PROFILES.get(spec.get("profile", ""))
    return profile.cruise_kmh if profile else SPEED_KMH


def chargers(ctx: Context, cat: catalog.Catalog, departure: datetime) -> list[Charger]:
    """The planner's view: free windows in minutes after departure; offline stations left out.

    Connectors of one company at one place with the same power, price and standard are one
    *offer*, and one of them free throughout the span serves the planner as well as any other
    of that offer: the planner gets that one only. Its busy twins are dominated (same charge,
    same price, never an earlier start), so they come only when no connector of the offer is
    free throughout, each with its own windows. A dense catalog has hundreds of stations per
    place and a handful of offers, so a plan's input is a few charging options per place
    whatever the size of the federation. The offers are indexed once per catalog version
    (``OfferIndex``); a plan only looks up, per offer, the first connector that is not busy.
    """
    out: list[Charger] = []
    start = (cat.span.start - departure).total_seconds() / 60
    end = (cat.span.end - departure).total_seconds() / 60
    zero = departure.timestamp()
    for part in cat.parts:
        source = part.catalog if part.catalog is not None else part.stations
        index = ctx.catalogs.memo(
            ("offers", part.company),
            source,
            (part.version, start, end),
            partial(OfferIndex, part.company, source, start, end),
        )
        busy, unavailable = part.busy, part.unavailable
        offline = {sid for sid, status in unavailable.items() if status == "offline"}
        for place in index.by_place if part.places is None else part.places:
            for offer in index.by_place.get(place, ()):
                for sid, c in offer:
                    if c["id"] not in busy and sid not in offline:
                        out.append(index.free(sid, place, c))
                        break
                else:  # every connector of the offer is busy at some time (or offline)
                    out.extend(
                        _charger(
                            sid,
                            part.company,
                            place,
                            c,
                            gaps(
                                [((a - zero) / 60, (b - zero) / 60) for a, b in busy[c["id"]]],
                                start,
                                end,
                            ),
                        )
                        for sid, c in offer
                        if sid not in offline
                    )
    return out


class OfferIndex:
    """One company's catalog (at one version) as the planner's offers: per place, its
    connectors grouped by (power, price, standard), in catalog order; and the planner's
    ``Charger`` of a connector free throughout the span, built once and shared by every plan
    (the planner only reads it)."""

    def __init__(self, company: str, stations: list[dict], start: float, end: float):
        self.company = company
        self.by_place: dict[str, list[list[tuple[str, dict]]]] = {}
        offers: dict[tuple, list[tuple[str, dict]]] = {}
        for item in stations:
            place = item["place_id"]
            for c in item["connectors"]:
                key = (place, c["power_kw"], c["price_per_kwh"], c.get("standard", "CCS2"))
                offer = offers.get(key)
                if offer is None:
                    offer = offers[key] = []
                    self.by_place.setdefault(place, []).append(offer)
                offer.append((item["id"], c))
        self._whole = [(start, end)]
        self._free: dict[str, Charger] = {}

    def free(self, station_id: str, place: str, c: dict) -> Charger:
        got = self._free.get(c["id"])
        if got is None:  # two plans building it at once build equal objects: harmless
            got = self._free[c["id"]] = _charger(station_id, self.company, place, c, self._whole)
        return got


def _charger(
    station_id: str, company: str, place: str, c: dict, free: list[tuple[float, float]]
) -> Charger:
    """The planner's charger of one catalog connector with its free windows (minutes)."""
    connector = ChargerConnector(
        c["id"], c["power_kw"], c["price_per_kwh"], c.get("standard", "CCS2"), free
    )
    return Charger(station_id, company, place, [connector])


CORRIDOR_SLACK_KM = 150.0  # a stop may lengthen the trip by this much (or a quarter of it)
CORRIDOR_SHARE = 0.25


def corridor(ctx: Context, origin: str, destination: str) -> list[str] | None:
    """The places a trip can stop at: those whose detour (origin → place → destination
    against the shortest road) is within max(150 km, a quarter of the trip). A plan asks the
    companies only about their stations there. None (every place) when either end is not a
    place of the network (the planner then says why)."""
    places = ctx.reference.network.places
    if origin not in places or destination not in places:
        return None
    return ctx.reference.distances.corridor(origin, destination, CORRIDOR_SLACK_KM, CORRIDOR_SHARE)


def plan_trip(
    ctx: Context,
    origin: str,
    destination: str,
    departure: datetime,
    vehicle: dict,
    reserve_soc: float = 0.1,
    arrival_soc: float | None = None,
    options: int = 3,
    avoid_companies: list[str] | None = None,
) -> tuple[PlanResult, catalog.Catalog]:
    """Plan over every company that answers in time; the catalogue names those that did not."""
    req = _request(
        ctx,
        origin,
        destination,
        departure,
        vehicle,
        reserve_soc,
        arrival_soc,
        options=options,
        avoid_companies=frozenset(avoid_companies or ()),
    )
    network = ctx.reference.network
    cat = catalog.gather(
        ctx, Window(departure, departure + HORIZON), corridor(ctx, origin, destination)
    )
    return plan(network, chargers(ctx, cat, departure), req, ctx.reference.distances), cat


def departure_of(ctx: Context, body: dict) -> datetime:
    """When the trip starts: the request's ``departure``, or now when it gives none. A
    departure in the past is refused: its windows could never be booked."""
    now = ctx.clock.now()
    if body.get("departure") is None:
        return now.replace(microsecond=0)
    departure = parse_time(body["departure"], "departure")
    if departure < now - CLIENT_SLACK:
        raise InvalidRequest(
            f"departure {iso(departure)} is in the past (it is {iso(now)} "
            "now): give a departure from now on, or none to leave now"
        )
    return departure


def booked_trip(ctx: Context, trip: dict) -> TripRequest:
    """The trip a booking serves (``trip`` of a plan's answer, sent back with the legs) as the
    planner's request: what a refused leg's alternatives are checked against."""
    for end in ("origin", "destination"):
        if trip[end] not in ctx.reference.network.places:
            raise InvalidRequest(f"trip.{end}: unknown place {trip[end]!r}")
    return _request(
        ctx,
        trip["origin"],
        trip["destination"],
        parse_time(trip["departure"], "trip.departure"),
        trip["vehicle"],
        trip.get("reserve_soc", 0.1),
        trip.get("arrival_soc"),
    )


def _request(
    ctx: Context,
    origin: str,
    destination: str,
    departure: datetime,
    vehicle: dict,
    reserve_soc: float,
    arrival_soc: float | None,
    **rest,
) -> TripRequest:
    """The planner's request for a trip and the car doing it (its model or measured
    consumption, its charge, its profile's speed): one builder for a plan and a booked trip."""
    return TripRequest(
        origin=origin,
        destination=destination,
        departure=departure,
        car=vehicle_car(ctx, vehicle),
        soc=float(vehicle["soc"]),
        speed_kmh=cruise_kmh(vehicle),
        reserve_soc=reserve_soc,
        arrival_soc=arrival_soc,
        **rest,
    )


def plan_answer(ctx: Context, body: dict) -> dict:
    """A plan request in its JSON shape (REST body or MQTT payload) to the JSON answer."""
    departure = departure_of(ctx, body)
    result, cat = plan_trip(
        ctx,
        body["origin"],
        body["destination"],
        departure,
        body["vehicle"],
        reserve_soc=body.get("reserve_soc", 0.1),
        arrival_soc=body.get("arrival_soc"),
        options=body.get("options", 3),
        avoid_companies=body.get("avoid_companies"),
    )
    trip = {
        "origin": body["origin"],
        "destination": body["destination"],
        "departure": iso(departure),
        "vehicle": body["vehicle"],
        "reserve_soc": body.get("reserve_soc", 0.1),
    }
    if body.get("arrival_soc") is not None:
        trip["arrival_soc"] = body["arrival_soc"]
    answer: dict[str, object] = {
        "departure": iso(departure),
        "trip": trip,
        "options": [_option(o, rank, departure) for rank, o in enumerate(result.options, start=1)],
        "companies_asked": cat.asked,
        "companies_missing": [
            {"company": c, "reason": why} for c, why in sorted(cat.missing.items())
        ],
    }
    if result.infeasible:
        answer["infeasible"] = result.infeasible
    return answer


def _at(departure, minutes):
    return iso(departure + timedelta(minutes=minutes))


def _option(o, rank, departure):
    stops = [
        {
            "station_id": s.station_id,
            "company": s.company,
            "place_id": s.place_id,
            "connector_id": s.connector_id,
            "power_kw": s.power_kw,
            "arrival": _at(departure, s.arrival_min),
            "soc_arrival": round(s.soc_arrival, 4),
            "soc_target": round(s.soc_target, 4),
            "wait_minutes": round(s.wait_min, 1),
            "charge_minutes": round(s.charge_min, 1),
            "departure": _at(departure, s.end_min),
            "window": {"start": _at(departure, s.start_min), "end": _at(departure, s.end_min)},
            "energy_kwh": round(s.energy_kwh, 2),
            "cost": round(s.cost, 2),
        }
        for s in o.stops
    ]
    return {
        "rank": rank,
        "label": o.label,
        "route": o.route,
        "stops": stops,
        "totals": {
            "distance_km": round(o.distance_km, 1),
            "drive_minutes": round(o.drive_min, 1),
            "charge_minutes": round(o.charge_min, 1),
            "wait_minutes": round(o.wait_min, 1),
            "total_minutes": round(o.total_min, 1),
            "cost": round(o.cost, 2),
            "arrival": _at(departure, o.total_min),
            "soc_arrival": round(o.soc_arrival, 4),
        },
        "legs": [
            {
                "company": s["company"],
                "station_id": s["station_id"],
                "connector_id": s["connector_id"],
                "start": s["window"]["start"],
                "end": s["window"]["end"],
            }
            for s in stops
        ],
    }
