"""Alternatives for a refused leg: free windows of the same length near the same place and
time, at any company (SPEC §4, "losers choose")."""

from __future__ import annotations

from datetime import timedelta

from booking.model import Window, place_of_station
from booking.transaction import TxLeg
from service import catalog
from service.context import Context
from service.inputs import iso

NEARBY_KM = 60.0  # places within this road distance count as "near"
SHIFT = timedelta(hours=2)  # how far from the asked start an alternative may start
PER_LEG = 5


def _place_of(leg: TxLeg) -> str:
    if leg.place_id:
        return leg.place_id
    return place_of_station(leg.company, leg.station_id)


def for_legs(ctx: Context, legs: list[TxLeg]) -> dict[int, list[dict]]:
    if not legs:
        return {}
    network = ctx.reference.network
    oracle = ctx.reference.distances
    start = min(leg.window.start for leg in legs) - SHIFT
    end = max(leg.window.end for leg in legs) + SHIFT
    near_any = sorted({oracle.ids[i] for leg in legs if _place_of(leg) in network.places
                       for i, km in enumerate(oracle.row(_place_of(leg), NEARBY_KM))
                       if km != float("inf")})
    cat = catalog.gather(ctx, Window(start, end), near_any)
    out: dict[int, list[dict]] = {}
    for leg in legs:
        place = _place_of(leg)
        if place not in network.places:
            out[leg.leg_index] = []
            continue
        row = oracle.from_places([place], NEARBY_KM)[0]
        near = {oracle.ids[i]: float(km) for i, km in enumerate(row) if km != float("inf")}
        found = []
        for station in cat.stations:
            if station.place_id not in near or station.status == "offline":
                continue
            for c in station.connectors:
                slot = _nearest_slot(c.free, leg.window)
                if slot is None or (c.id == leg.connector_id and slot == leg.window):
                    continue
                shift = abs((slot.start - leg.window.start).total_seconds())
                found.append((near[station.place_id], shift, -c.power_kw, {
                    "company": station.company, "station_id": station.id, "connector_id": c.id,
                    "place_id": station.place_id, "start": iso(slot.start),
                    "end": iso(slot.end), "power_kw": c.power_kw,
                    "price_per_kwh": c.price_per_kwh,
                    "detour_km": round(2 * near[station.place_id], 1)}))
        found.sort(key=lambda f: f[:3])
        out[leg.leg_index] = [f[3] for f in found[:PER_LEG]]
    return out


def _nearest_slot(free: list[Window], want: Window) -> Window | None:
    """The window of ``want``'s length inside a free gap whose start is nearest ``want``'s."""
    length = want.end - want.start
    best = None
    for gap in free:
        if gap.end - gap.start < length:
            continue
        start = min(max(want.start, gap.start), gap.end - length)
        if abs(start - want.start) > SHIFT:
            continue
        if best is None or abs(start - want.start) < abs(best.start - want.start):
            best = Window(start, start + length)
    return best


