"""POST /plans as a use case: gather chargers and their free windows, then plan.

Until the federation lands, the chargers are this company's own stations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.availability import free_windows
from booking.errors import InvalidRequest
from booking.model import Window
from network.distances import RoadDistances
from planning import Car, Charger, ChargerConnector, PlanResult, TripRequest, plan
from service.context import Context

HORIZON = timedelta(hours=48)


_DISTANCES: dict[str, RoadDistances] = {}


def _distances(network) -> RoadDistances:
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


def local_chargers(ctx: Context, departure: datetime) -> list[Charger]:
    span = Window(departure, departure + HORIZON)
    with ctx.store.connection():
        stations, _ = ctx.store.list_stations()
        busy = ctx.store.active_reservations(
            [c.id for s in stations for c in s.connectors], span)
    by_connector: dict[str, list[Window]] = {}
    for r in busy:
        by_connector.setdefault(r.connector_id, []).append(r.window)
    chargers = []
    for s in stations:
        if s.status == "offline":
            continue
        conns = []
        for c in s.connectors:
            free = free_windows(by_connector.get(c.id, []), span)
            conns.append(ChargerConnector(c.id, c.power_kw, c.price_per_kwh, c.standard, [
                ((w.start - departure).total_seconds() / 60,
                 (w.end - departure).total_seconds() / 60) for w in free]))
        chargers.append(Charger(s.id, s.company, s.place_id, conns))
    return chargers


def plan_trip(ctx: Context, origin: str, destination: str, departure: datetime, vehicle: dict,
              reserve_soc: float = 0.1, arrival_soc: float | None = None, options: int = 3,
              avoid_companies: list[str] | None = None) -> PlanResult:
    req = TripRequest(origin=origin, destination=destination, departure=departure,
                      car=vehicle_car(ctx, vehicle), soc=float(vehicle["soc"]),
                      reserve_soc=reserve_soc, arrival_soc=arrival_soc, options=options,
                      avoid_companies=frozenset(avoid_companies or ()))
    network = ctx.reference.network
    return plan(network, local_chargers(ctx, departure), req, _distances(network))
