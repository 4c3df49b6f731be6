"""POST /plans as a use case: gather every company's chargers and free windows, then plan."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.errors import InvalidRequest
from booking.model import Window
from network.distances import RoadDistances
from planning import Car, Charger, ChargerConnector, PlanResult, TripRequest, plan
from service import catalog
from service.context import Context

HORIZON = timedelta(hours=48)


_DISTANCES: dict[str, RoadDistances] = {}


def distances(network) -> RoadDistances:
    """One distance oracle per network version (the network never changes in a process)."""
    if network.version not in _DISTANCES:
        _DISTANCES[network.version] = RoadDistances(network)
    return _DISTANCES[network.version]


def vehicle_car(ctx: Context, spec: dict) -> Car:
    """A catalogue model and/or explicit figures (explicit figures win)."""
    model = ctx.reference.vehicles.get(spec.get("model_id", ""))
    battery = spec.get("battery_kwh") or (model and model.battery_kwh)
    consumption = spec.get("consumption_kwh_per_km") or (model and model.consumption_kwh_per_km)
    max_kw = spec.get("max_charge_kw") or (model and model.max_charge_kw)
    if not (battery and consumption and max_kw):
        raise InvalidRequest("give vehicle.model_id or battery_kwh, consumption_kwh_per_km "
                             "and max_charge_kw")
    return Car(float(battery), float(consumption), float(max_kw),
               float(model.max_ac_kw) if model else min(11.0, float(max_kw)))


def chargers(stations: list[catalog.FreeStation], departure: datetime) -> list[Charger]:
    """The planner's view: free windows in minutes after departure; offline stations left out."""
    out = []
    for s in stations:
        if s.status == "offline":
            continue
        conns = [ChargerConnector(c.id, c.power_kw, c.price_per_kwh, c.standard, [
            ((w.start - departure).total_seconds() / 60, (w.end - departure).total_seconds() / 60)
            for w in c.free]) for c in s.connectors]
        out.append(Charger(s.id, s.company, s.place_id, conns))
    return out


def plan_trip(ctx: Context, origin: str, destination: str, departure: datetime, vehicle: dict,
              reserve_soc: float = 0.1, arrival_soc: float | None = None, options: int = 3,
              avoid_companies: list[str] | None = None) -> tuple[PlanResult, catalog.Catalog]:
    """Plan over every company that answers in time; the catalogue names those that did not."""
    req = TripRequest(origin=origin, destination=destination, departure=departure,
                      car=vehicle_car(ctx, vehicle), soc=float(vehicle["soc"]),
                      reserve_soc=reserve_soc, arrival_soc=arrival_soc, options=options,
                      avoid_companies=frozenset(avoid_companies or ()))
    network = ctx.reference.network
    cat = catalog.gather(ctx, Window(departure, departure + HORIZON))
    return plan(network, chargers(cat.stations, departure), req, distances(network)), cat
