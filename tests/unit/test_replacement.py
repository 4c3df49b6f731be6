"""Alternatives a driver can use (docs/planning.md, "Alternatives for a refused leg"), checked
over random small networks with contended chargers against an independent re-simulation: its
own shortest paths (Floyd), its own charging (the power curve integrated in small steps, not
the closed form) and its own rules.

For every replacement offered for a refused stop of a planned trip:
1. the trip driven with it never goes below the reserve and arrives with the charge asked;
2. it starts no earlier than the car, coming from its previous stop, can be there;
3. it lies in a free window of its connector and ends before the next booked window starts;
and the booked trip itself re-simulates to the plan's figures. Without the trip (legs only),
the replacement gives at least the refused leg's energy and leaves time to reach the next leg.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from network.distances import RoadDistances
from planning import plan
from planning.charging import effective_power_kw
from planning.replacement import (
    Candidate,
    Reserved,
    leg_replacements,
    replacements,
    simulate,
)
from tests.planner_cases import OVERHEAD, floyd, random_case

NEAR_KM = 60.0
STEP_MIN = 0.02


def RANDOM_NETWORKS(test):  # noqa: N802 (a decorator read as a constant)
    """200 random networks (their seeds), the same on every run."""
    return given(st.integers(min_value=0, max_value=2**32 - 1))(
        settings(
            max_examples=200,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )(test)
    )


def _power(soc: float, peak: float) -> float:
    return peak if soc <= 0.8 else peak * (1 - 3.75 * (soc - 0.8))


def _charge(soc: float, minutes: float, battery: float, peak: float) -> float:
    """The power curve integrated (the oracle's own charging): the flat part up to 80 % in
    one step (constant power), the taper in small steps."""
    t = 0.0
    if soc < 0.8:
        flat = (0.8 - soc) * battery * 60.0 / peak  # minutes to 80 % at full power
        if flat >= minutes:
            return soc + peak * minutes / 60.0 / battery
        soc, t = 0.8, flat
    while t < minutes - 1e-12 and soc < 1.0:
        dt = min(STEP_MIN, minutes - t)
        soc = min(1.0, soc + _power(soc, peak) * dt / 60.0 / battery)
        t += dt
    return soc


def _drive(d, req, stops):
    """Each stop's (arrival, charge on arrival), the arrival at the destination and its charge,
    and whether the trip is safe: ``stops`` are (place, peak kW, start, end)."""
    k = req.car.consumption_kwh_per_km / req.car.battery_kwh
    at, t, soc, seen, safe = req.origin, 0.0, req.soc, [], True
    for place, peak, start, end in stops:
        km = d[(at, place)]
        t, soc = t + km / req.speed_kmh * 60, soc - km * k
        seen.append((t, soc))
        safe &= soc >= req.reserve_soc - 1e-3 and t <= end - OVERHEAD + 1e-6
        soc = _charge(soc, end - OVERHEAD - max(t, start), req.car.battery_kwh, peak)
        at, t = place, end
    km = d[(at, req.destination)]
    t, soc = t + km / req.speed_kmh * 60, soc - km * k
    safe &= soc >= req.final_soc - 1e-3
    return seen, t, soc, safe


def _setting(seed: int):
    """A planned trip (its fastest option), a refused stop, and the connectors near it with
    their free windows less this booking's own windows."""
    rng = random.Random(seed)
    network, chargers, req = random_case(rng)
    result = plan(network, chargers, req, RoadDistances(network))
    if not result.options or not result.options[0].stops:
        return None
    option = result.options[0]
    d = floyd(network)
    booked = [Reserved(s.place_id, s.power_kw, s.start_min, s.end_min) for s in option.stops]
    refused = rng.randrange(len(booked))
    mine = {}
    for s in option.stops:
        mine.setdefault(s.connector_id, []).append((s.start_min, s.end_min))
    candidates = []
    for ch in chargers:
        if d[(ch.place_id, booked[refused].place_id)] > NEAR_KM:
            continue
        for c in ch.connectors:
            free = _less(c.free, mine.get(c.connector_id, []))
            power = effective_power_kw(
                c.power_kw, c.standard, req.car.max_charge_kw, req.car.max_ac_kw
            )
            candidates.append(
                Candidate(
                    (ch.station_id, c.connector_id), ch.place_id, power, c.price_per_kwh, free
                )
            )
    return network, req, option, booked, refused, candidates, d, lambda a, b: d[(a, b)]


def _less(free, taken):
    out = []
    for a, b in free:
        pieces = [(a, b)]
        for x, y in taken:
            pieces = [p for s, e in pieces for p in ((s, min(e, x)), (max(s, y), e)) if p[1] > p[0]]
        out.extend(pieces)
    return sorted(out)


@RANDOM_NETWORKS
def test_every_replacement_keeps_the_trip_safe(seed):
    setting = _setting(seed)
    if setting is None:
        return
    network, req, option, booked, refused, candidates, d, km = setting
    # the booked trip re-simulates to the plan's own figures
    drive = simulate(req, booked, km)
    assert drive.problem is None
    assert drive.arrival == pytest.approx(option.total_min, abs=1e-6)
    assert drive.soc_arrival == pytest.approx(option.soc_arrival, abs=1e-6)

    offered, why = replacements(req, booked, refused, candidates, km)
    assert bool(offered) != bool(why)
    before_end = booked[refused - 1].end if refused else 0.0
    before_place = booked[refused - 1].place_id if refused else req.origin
    latest = booked[refused + 1].start if refused + 1 < len(booked) else math.inf
    for r in offered:
        place, peak = r.candidate.place_id, r.candidate.power_kw
        trial = [*booked[:refused], Reserved(place, peak, r.start, r.end), *booked[refused + 1 :]]
        seen, arrival, _, safe = _drive(
            d, req, [(s.place_id, s.power_kw, s.start, s.end) for s in trial]
        )
        assert safe, (r, trial)
        there = before_end + d[(before_place, place)] / req.speed_kmh * 60
        assert r.start >= there - 1e-6 and seen[refused][0] == pytest.approx(there)
        assert any(a - 1e-6 <= r.start and r.end <= b + 1e-6 for a, b in r.candidate.free)
        assert r.end <= latest + 1e-6
        assert r.delay_min == pytest.approx(arrival - option.total_min, abs=1e-3)
    assert [round(r.delay_min, 6) for r in offered] == sorted(
        round(r.delay_min, 6) for r in offered
    )


@RANDOM_NETWORKS
def test_without_the_trip_a_replacement_gives_the_refused_energy_in_time(seed):
    setting = _setting(seed)
    if setting is None:
        return
    _, req, option, booked, refused, candidates, d, km = setting
    stop = option.stops[refused]
    leg = Reserved(stop.place_id, stop.power_kw, stop.start_min, stop.end_min)
    following = booked[refused + 1] if refused + 1 < len(booked) else None
    offered, why = leg_replacements(leg, following, candidates, km, req.speed_kmh, OVERHEAD)
    assert bool(offered) != bool(why)
    energy = leg.power_kw * (leg.end - leg.start - OVERHEAD) / 60
    for r in offered:
        place = r.candidate.place_id
        power = min(r.candidate.power_kw, leg.power_kw)
        assert power * (r.end - r.start - OVERHEAD) / 60 >= energy - 1e-6
        assert r.start >= leg.start + d[(leg.place_id, place)] / req.speed_kmh * 60 - 1e-6
        if following is not None:
            reach = r.end + d[(place, following.place_id)] / req.speed_kmh * 60
            assert reach <= following.start + 1e-6


def test_replacements_are_found_and_refused_on_these_networks():
    """Not vacuous: over these networks some refused stops get replacements, some get none
    with a reason, and the booked trips are safe."""
    offered = refused_with_reason = 0
    for seed in range(120):
        setting = _setting(seed)
        if setting is None:
            continue
        _, req, _, booked, refused, candidates, _, km = setting
        found, why = replacements(req, booked, refused, candidates, km)
        offered += bool(found)
        refused_with_reason += bool(why)
    assert offered >= 20 and refused_with_reason >= 5, (offered, refused_with_reason)
