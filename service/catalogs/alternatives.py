"""Alternatives for a refused leg that the car can use (SPEC §4, "losers choose";
docs/planning.md, "Alternatives for a refused leg").

The connectors of every company within ``NEARBY_KM`` of the refused leg's place, with their
free windows, are gathered once; ``planning.replacement`` keeps those that can charge the car
in time. With the booking's trip (sent with it), each is re-simulated with the whole trip;
without it, each is checked against the legs alone (and says so: ``checked_against``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from booking.model import Window, place_of_station
from booking.transaction import BookingTx, TxLeg
from planning.charging import AC_STANDARDS, effective_power_kw
from planning.model import SPEED_KMH, STOP_OVERHEAD_MIN
from planning.replacement import (
    Candidate,
    Replacement,
    Reserved,
    leg_replacements,
    replacements,
)
from service.catalogs import catalog, trips
from service.company.context import Context
from service.company.inputs import iso

NEARBY_KM = 60.0  # places within this road distance of the refused leg's place are "near"
BEFORE = timedelta(hours=2)  # the free windows gathered: from this before a refused leg
AFTER = timedelta(hours=6)  # to this after it (a replacement later than that helps no one)
PER_LEG = 5


@dataclass
class Offers:
    """What a refused leg is offered: its alternatives, best first, or why there are none."""

    alternatives: list[dict]
    why_none: str | None = None


def for_booking(ctx: Context, tx: BookingTx) -> dict[int, Offers]:
    """The offers for each of ``tx``'s refused legs, the other legs staying as booked."""
    return _offers(ctx, tx.refused_legs, sorted(tx.legs, key=lambda leg: leg.leg_index), tx.trip)


def for_leg(ctx: Context, leg: TxLeg) -> Offers:
    """The offers for one leg known alone (its station went offline at this company, which
    does not know the rest of the booking)."""
    return _offers(ctx, [leg], [leg], None)[leg.leg_index]


def _place_of(leg: TxLeg) -> str:
    return leg.place_id or place_of_station(leg.company, leg.station_id)


def _offers(
    ctx: Context, refused: list[TxLeg], legs: list[TxLeg], trip: dict | None
) -> dict[int, Offers]:
    if not refused:
        return {}
    network, oracle = ctx.reference.network, ctx.reference.distances
    km = oracle.between

    known = [leg for leg in refused if _place_of(leg) in network.places]
    near = {
        _place_of(leg): [
            oracle.ids[i]
            for i, d in enumerate(oracle.row(_place_of(leg), NEARBY_KM))
            if d != float("inf")
        ]
        for leg in known
    }
    places = sorted(
        {p for ps in near.values() for p in ps}
        | {_place_of(leg) for leg in legs if _place_of(leg) in network.places}
    )
    span = Window(
        min(leg.window.start for leg in refused) - BEFORE,
        max(leg.window.end for leg in refused) + AFTER,
    )
    cat = catalog.gather(ctx, span, places)
    everywhere = cat.stations
    connectors = {c.id: c for s in everywhere for c in s.connectors}
    stations = [s for s in everywhere if s.status != "offline"]  # where a car may go instead
    req = trips.booked_trip(ctx, trip) if trip is not None else None
    if req is not None and any(
        leg.connector_id not in connectors for leg in legs if leg not in refused
    ):
        req = None  # a booked leg's company did not answer: its power is unknown here
    # a refused connector gone from its company's catalog counts as the most powerful of its
    # place (or of the places near): the energy asked of a replacement is the most it could
    # have given
    strongest: dict[str, float] = {}
    for s in everywhere:
        for c in s.connectors:
            strongest[s.place_id] = max(strongest.get(s.place_id, 0.0), c.power_kw)
    zero = req.departure if req is not None else min(leg.window.start for leg in legs)

    def minutes(t: datetime) -> float:
        return (t - zero).total_seconds() / 60.0

    def nominal(leg: TxLeg) -> float:
        c = connectors.get(leg.connector_id)
        if c is not None:
            return c.power_kw
        return strongest.get(_place_of(leg)) or max(
            (strongest.get(p, 0.0) for p in near.get(_place_of(leg), ())), default=0.0
        )

    def power(connector_id: str, leg: TxLeg | None = None) -> float:
        c = connectors.get(connector_id)
        if c is None:  # a refused leg's vanished connector (see ``strongest``)
            got = nominal(leg) if leg is not None else 0.0
            return min(got, req.car.max_charge_kw) if req is not None else got
        if req is not None:
            return effective_power_kw(
                c.power_kw, c.standard, req.car.max_charge_kw, req.car.max_ac_kw
            )
        return min(c.power_kw, _weakest_ac_kw(ctx)) if c.standard in AC_STANDARDS else c.power_kw

    mine: dict[str, list[Window]] = {}  # this booking's own windows (the refused one too)
    for x in legs:
        mine.setdefault(x.connector_id, []).append(x.window)
    booked = [
        Reserved(
            _place_of(x), power(x.connector_id, x), minutes(x.window.start), minutes(x.window.end)
        )
        for x in legs
    ]
    out: dict[int, Offers] = {}
    position = {leg.leg_index: i for i, leg in enumerate(legs)}
    for leg in refused:
        if leg not in known:
            out[leg.leg_index] = Offers([], f"its place {_place_of(leg)!r} is not on the map")
            continue
        if nominal(leg) <= 0:
            out[leg.leg_index] = Offers(
                [],
                f"company {leg.company!r} did not say what its "
                "connector gives, so no replacement can be sized",
            )
            continue
        candidates = [
            Candidate(
                (s, c),
                s.place_id,
                power(c.id),
                c.price_per_kwh,
                [(minutes(w.start), minutes(w.end)) for w in _less(c.free, mine.get(c.id))],
            )
            for s in stations
            if s.place_id in near[_place_of(leg)]
            for c in s.connectors
        ]
        candidates = [c for c in candidates if c.power_kw > 0]
        i = position[leg.leg_index]
        if req is not None:
            found, why = replacements(req, booked, i, candidates, km, PER_LEG)
            before = booked[i - 1].place_id if i else req.origin
            after = booked[i + 1].place_id if i + 1 < len(booked) else req.destination
        else:
            following = booked[i + 1] if i + 1 < len(booked) else None
            found, why = leg_replacements(
                Reserved(booked[i].place_id, nominal(leg), booked[i].start, booked[i].end),
                following,
                candidates,
                km,
                SPEED_KMH,
                STOP_OVERHEAD_MIN,
                PER_LEG,
            )
            before = booked[i].place_id
            after = following.place_id if following else booked[i].place_id
        base = km(before, booked[i].place_id) + km(booked[i].place_id, after)
        out[leg.leg_index] = Offers(
            [
                _view(
                    r,
                    zero,
                    km(before, r.candidate.place_id) + km(r.candidate.place_id, after) - base,
                    "trip" if req is not None else "legs",
                )
                for r in found
            ],
            why,
        )
    return out


def _view(r: Replacement, zero: datetime, detour_km: float, checked: str) -> dict:
    station, c = cast(tuple[catalog.FreeStation, catalog.FreeConnector], r.candidate.key)
    return {
        "company": station.company,
        "station_id": station.id,
        "connector_id": c.id,
        "place_id": station.place_id,
        "start": iso(zero + timedelta(minutes=r.start)),
        "end": iso(zero + timedelta(minutes=r.end)),
        "power_kw": c.power_kw,
        "price_per_kwh": c.price_per_kwh,
        "detour_km": round(max(detour_km, 0.0), 1),
        "delay_minutes": round(r.delay_min, 1) + 0.0,
        "energy_kwh": round(r.energy_kwh, 2),
        "cost": round(r.cost, 2),
        "checked_against": checked,
    }


def _less(free: list[Window], taken: list[Window] | None) -> list[Window]:
    """``free`` less the windows of ``taken`` (the booking's own, and the refused one)."""
    if not taken:
        return free
    out: list[Window] = []
    for w in free:
        pieces = [(w.start, w.end)]
        for t in taken:
            pieces = [
                p
                for a, b in pieces
                for p in ((a, min(b, t.start)), (max(a, t.end), b))
                if p[1] > p[0]
            ]
        out.extend(Window(a, b) for a, b in pieces)
    return sorted(out, key=lambda w: w.start)


def _weakest_ac_kw(ctx: Context) -> float:
    """The weakest on-board (AC) charger of the catalogued cars: an AC connector gives an
    unknown car no more than this."""
    return min((v.max_ac_kw for v in ctx.reference.vehicles.values()), default=7.4)
