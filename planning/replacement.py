"""A booked trip driven again, and the replacements for a refused leg that keep it safe.

A refused leg's alternatives are worth offering only if the car can use them: the replacement
must deliver the energy the refused leg would have, start no earlier than the car can be
there (the detour by road included), and leave the rest of the booking feasible. Both
functions here work in minutes after the trip's departure, like the planner, and take road
distances as a function ``km(a, b)``, so they are plain Python tested without I/O.

* ``simulate`` drives a booked trip: from the origin with the car's charge, stop after stop,
  the car plugs in when it is there and its window has begun, charges at the stop's power (the
  taper of ``planning.charging`` included) until its window ends less the stop overhead, and
  leaves when the window ends. It reports the first place the charge falls below the reserve
  (the final state of charge asked at the destination), or a window the car cannot reach.
* ``replacements`` tries every candidate connector near the refused leg: the car drives there
  from its previous stop, charges what the next part of the trip needs (or to 80 % or 100 %
  when a later start leaves the next stops less time to charge), in the earliest free window
  that starts once it is there and ends before the next booked window begins; the trip
  re-simulated with it must be safe. Ranked by the delay added to the arrival, then price.
* ``leg_replacements`` is the same search when the trip is unknown (a booking posted without
  it, a station gone offline at a company that did not coordinate the booking): only the
  legs are known, so the energy to deliver is the most the refused leg could have given, at the
  lower of the two connectors' powers (AC at the weakest on-board charger), plus the
  detour's road at a heavy consumption, and the window must end in time to reach the next leg.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from planning.charging import TAPER_SLOPE, TAPER_START, billed_kwh, charge_minutes
from planning.model import TripRequest

EPS = 1e-6
#: float and time-rounding slack on a state of charge (0.01 %): a booked plan re-simulates to
#: the same figures within this
SOC_SLACK = 1e-4

#: the charge targets tried beyond what the rest of the trip needs (the planner's)
TARGETS = (0.8, 1.0)

Km = Callable[[str, str], float]


@dataclass(frozen=True)
class Reserved:
    """A booked charging window: where, at what power for this car, from ``start`` to ``end``
    (minutes after departure)."""

    place_id: str
    power_kw: float
    start: float
    end: float


@dataclass(frozen=True)
class Visit:
    arrival: float
    soc_arrival: float
    plug_in: float
    soc_departure: float
    departure: float


@dataclass(frozen=True)
class Drive:
    """A booked trip, driven: each stop as visited, the arrival, and the first problem met
    (None: the trip is safe)."""

    visits: list[Visit]
    arrival: float
    soc_arrival: float
    problem: str | None


def soc_after(soc: float, minutes: float, battery_kwh: float, power_kw: float) -> float:
    """The state of charge after charging ``minutes`` from ``soc`` (``charge_minutes`` inverted)."""
    if minutes <= 0 or power_kw <= 0:
        return soc
    flat_min = TAPER_START * battery_kwh / power_kw * 60.0
    done = float(charge_minutes(0.0, soc, battery_kwh, power_kw)) + minutes
    if done <= flat_min:
        return done * power_kw / (60.0 * battery_kwh)
    taper = (done - flat_min) * power_kw / (60.0 * battery_kwh)
    return min(1.0, TAPER_START + (1.0 - math.exp(-TAPER_SLOPE * taper)) / TAPER_SLOPE)


def simulate(req: TripRequest, legs: Sequence[Reserved], km: Km) -> Drive:
    car = req.car
    k = car.soc_per_km()
    at, t, soc = req.origin, 0.0, req.soc
    visits: list[Visit] = []
    for i, leg in enumerate(legs):
        d = km(at, leg.place_id)
        if not math.isfinite(d):
            return Drive(visits, t, soc, f"stop {i + 1}: no road from the previous stop")
        t += d / req.speed_kmh * 60.0
        soc -= d * k
        if soc < req.reserve_soc - SOC_SLACK:
            return Drive(
                visits,
                t,
                soc,
                f"stop {i + 1}: the car arrives with {soc:.0%}, "
                f"below the {req.reserve_soc:.0%} reserve",
            )
        if t > leg.end - req.stop_overhead_min + EPS:
            return Drive(
                visits,
                t,
                soc,
                f"stop {i + 1}: the car arrives after its window leaves time to charge",
            )
        plug = max(t, leg.start)
        charged = soc_after(
            soc, leg.end - req.stop_overhead_min - plug, car.battery_kwh, leg.power_kw
        )
        visits.append(Visit(t, soc, plug, max(soc, charged), leg.end))
        at, t, soc = leg.place_id, leg.end, max(soc, charged)
    d = km(at, req.destination)
    if not math.isfinite(d):
        return Drive(visits, t, soc, "no road from the last stop to the destination")
    t += d / req.speed_kmh * 60.0
    soc -= d * k
    if soc < req.final_soc - SOC_SLACK:
        return Drive(
            visits,
            t,
            soc,
            f"the car reaches the destination with {soc:.0%}, below the {req.final_soc:.0%} asked",
        )
    return Drive(visits, t, soc, None)


@dataclass(frozen=True)
class Candidate:
    """A connector that could replace a refused leg: ``key`` is the caller's (the planner
    never reads it), ``power_kw`` what it gives this car, ``free`` its free windows (minutes
    after departure, sorted)."""

    key: object
    place_id: str
    power_kw: float
    price_per_kwh: float
    free: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Replacement:
    candidate: Candidate
    start: float
    end: float
    delay_min: float  # added to the arrival (trip known) or to the next leg's reach (legs only)
    energy_kwh: float
    cost: float


def _earliest(
    free: Sequence[tuple[float, float]], ready: float, length: float, latest_end: float
) -> float | None:
    """The earliest start ≥ ``ready`` of ``length`` minutes inside one free window, ending by
    ``latest_end``."""
    for a, b in free:
        start = max(a, ready)
        if start + length <= b + EPS and start + length <= latest_end + EPS:
            return start
        if start + length > latest_end + EPS:
            return None
    return None


def _ranked(found: list[Replacement], limit: int) -> list[Replacement]:
    """Best first (delay, then cost); one of identical offers (twin connectors of a place)."""
    found.sort(key=lambda r: (round(r.delay_min, 6), round(r.cost, 4), r.candidate.place_id))
    out: list[Replacement] = []
    seen: set[tuple[object, ...]] = set()
    for r in found:
        same = (
            r.candidate.place_id,
            r.candidate.power_kw,
            r.candidate.price_per_kwh,
            round(r.start, 6),
            round(r.end, 6),
        )
        if same not in seen:
            seen.add(same)
            out.append(r)
        if len(out) == limit:
            break
    return out


def replacements(
    req: TripRequest,
    legs: Sequence[Reserved],
    refused: int,
    candidates: Sequence[Candidate],
    km: Km,
    limit: int = 5,
) -> tuple[list[Replacement], str | None]:
    """The workable replacements of ``legs[refused]``, best first, with the reason there are
    none (None when there are). Other legs stay as booked."""
    car, B = req.car, req.car.battery_kwh
    k = car.soc_per_km()
    booked = simulate(req, legs, km)
    if len(booked.visits) < refused:  # the trip fails before the refused leg: nothing helps
        return [], f"the booked trip fails before this stop: {booked.problem}"
    if refused:
        before = booked.visits[refused - 1]
        at, ready, soc = legs[refused - 1].place_id, before.departure, before.soc_departure
    else:
        at, ready, soc = req.origin, 0.0, req.soc
    following = legs[refused + 1] if refused + 1 < len(legs) else None
    nxt = following.place_id if following else req.destination
    latest_end = following.start if following else math.inf
    # the charge the refused leg would have left with: what the rest of the trip was built on
    if len(booked.visits) > refused:
        wanted = booked.visits[refused].soc_departure
    else:  # the booked trip already fails at this stop: what the next hop needs
        wanted = min(1.0, req.reserve_soc + km(legs[refused].place_id, nxt) * k)
    base_next = km(legs[refused].place_id, nxt)
    found: list[Replacement] = []
    why = "no free connector near the refused stop"
    for cand in candidates:
        d = km(at, cand.place_id)
        arrive, soc_there = ready + d / req.speed_kmh * 60.0, soc - d * k
        if not math.isfinite(d) or soc_there < req.reserve_soc - SOC_SLACK:
            why = "no connector near the refused stop is within the car's reach"
            continue
        # what the refused leg would have left with, the detour's road added; or more (80 %,
        # 100 %, as the planner would), when a later start leaves the next stops less time
        need = min(1.0, max(soc_there, wanted + (km(cand.place_id, nxt) - base_next) * k))
        for target in sorted({need, *(t for t in TARGETS if t > need)}):
            length = (
                float(charge_minutes(soc_there, target, B, cand.power_kw)) + req.stop_overhead_min
            )
            start = _earliest(cand.free, arrive, length, latest_end)
            if start is None:
                why = (
                    "no connector near the refused stop is free long enough, before the "
                    "next booked window, to charge the car"
                )
                break
            trial = [
                *legs[:refused],
                Reserved(cand.place_id, cand.power_kw, start, start + length),
                *legs[refused + 1 :],
            ]
            drive = simulate(req, trial, km)
            if drive.problem is not None:
                why = (
                    f"no connector near the refused stop keeps the rest of the trip "
                    f"feasible (with {cand.place_id}'s, {drive.problem}): the next windows "
                    "would have to move"
                )
                continue
            energy = billed_kwh(soc_there, target, B)
            found.append(
                Replacement(
                    cand,
                    start,
                    start + length,
                    drive.arrival - booked.arrival,
                    energy,
                    energy * cand.price_per_kwh,
                )
            )
            break
    return _ranked(found, limit), (None if found else why)


#: Without the trip: a heavy consumption for the detour's road (above every catalogued car's)
HEAVY_KWH_PER_KM = 0.30


def leg_replacements(
    refused: Reserved,
    following: Reserved | None,
    candidates: Sequence[Candidate],
    km: Km,
    speed_kmh: float,
    overhead_min: float,
    limit: int = 5,
) -> tuple[list[Replacement], str | None]:
    """The replacements of a leg when only the legs are known (see the module's docstring).
    ``refused.power_kw`` is its connector's power; a candidate's ``power_kw`` is what it gives
    the weakest car (AC through the weakest on-board charger)."""
    minutes = max(0.0, refused.end - refused.start - overhead_min)
    energy = refused.power_kw * minutes / 60.0
    nxt = following.place_id if following else refused.place_id
    latest_end = following.start if following else math.inf
    base_reach = refused.end + km(refused.place_id, nxt) / speed_kmh * 60.0
    found: list[Replacement] = []
    why = "no free connector near the refused stop"
    for cand in candidates:
        there = km(refused.place_id, cand.place_id)
        onward = km(cand.place_id, nxt)
        if not (math.isfinite(there) and math.isfinite(onward)):
            continue
        # the car could be at the refused place by its window's start: from there (or from
        # anywhere on its way) it reaches the candidate no later than this
        arrive = refused.start + there / speed_kmh * 60.0
        extra_km = max(0.0, there + onward - km(refused.place_id, nxt))
        need = energy + extra_km * HEAVY_KWH_PER_KM
        power = min(cand.power_kw, refused.power_kw)
        length = need / power * 60.0 + overhead_min if power > 0 else math.inf
        start = _earliest(cand.free, arrive, length, latest_end - onward / speed_kmh * 60.0)
        if start is None:
            why = (
                "no connector near the refused stop is free long enough, in time for the "
                "next booked window, to give the energy of the refused one"
            )
            continue
        found.append(
            Replacement(
                cand,
                start,
                start + length,
                start + length + onward / speed_kmh * 60.0 - base_reach,
                need,
                need * cand.price_per_kwh,
            )
        )
    return _ranked(found, limit), (None if found else why)
