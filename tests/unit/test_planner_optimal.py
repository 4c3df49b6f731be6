"""Acceptance: on 200+ random small networks the first option is optimal and every option safe."""

import math
import random

import pytest

from network.distances import RoadDistances
from planning import plan
from planning.charging import charge_minutes, effective_power_kw
from planning.planner import ALTERNATIVE_WEIGHT, CHEAPEST, CHEAPEST_SLACK, MIN_SAVING
from tests.planner_cases import (
    OVERHEAD,
    SPEED,
    brute_force_cheapest,
    brute_force_fastest,
    floyd,
    random_case,
)

CASES = 220


def check_safe(network, chargers, req, option):
    """Recompute the whole schedule from the stops alone: never below the reserve, coherent
    times, windows inside free windows."""
    d = floyd(network)
    k = req.car.consumption_kwh_per_km / req.car.battery_kwh
    by_id = {c.station_id: c for c in chargers}
    soc, t, place = req.soc, 0.0, req.origin
    for stop in option.stops:
        km = d[(place, stop.place_id)]
        soc -= km * k
        t += km / SPEED * 60
        assert soc >= req.reserve_soc - 1e-6, "below the reserve on the way to a stop"
        assert math.isclose(stop.soc_arrival, soc, abs_tol=1e-6)
        assert math.isclose(stop.arrival_min, t, abs_tol=1e-6)
        assert stop.start_min >= t - 1e-6 and stop.wait_min >= -1e-6
        conn = next(
            c for c in by_id[stop.station_id].connectors if c.connector_id == stop.connector_id
        )
        assert stop.soc_target <= 1.0 + 1e-9 and stop.soc_target > soc
        power = effective_power_kw(
            conn.power_kw, conn.standard, req.car.max_charge_kw, req.car.max_ac_kw
        )
        cmin = float(charge_minutes(soc, stop.soc_target, req.car.battery_kwh, power))
        assert math.isclose(stop.end_min - stop.start_min, cmin + OVERHEAD, abs_tol=1e-6)
        assert any(
            ws - 1e-6 <= stop.start_min and stop.end_min <= we + 1e-6 for ws, we in conn.free
        ), "the window is not free"
        soc, t, place = stop.soc_target, stop.end_min, stop.place_id
    km = d[(place, req.destination)]
    soc -= km * k
    t += km / SPEED * 60
    assert soc >= req.final_soc - 1e-6
    assert math.isclose(option.total_min, t, abs_tol=1e-6)
    assert math.isclose(option.soc_arrival, soc, abs_tol=1e-6)


def check_different(options):
    """Other stops, or the same stops as the cheapest option for a real saving."""
    for i, option in enumerate(options):
        for other in options[:i]:
            assert option.signature() != other.signature() or (
                option.label == "cheapest" and option.cost < other.cost * (1 - MIN_SAVING)
            )


def test_first_option_is_optimal_and_every_option_is_safe():
    rng = random.Random(20261122)
    feasible = infeasible = 0
    for case in range(CASES):
        network, chargers, req = random_case(rng)
        result = plan(network, chargers, req, RoadDistances(network))
        optimum = brute_force_fastest(network, chargers, req)
        if math.isinf(optimum):
            assert result.options == [] and result.infeasible, f"case {case}"
            infeasible += 1
            continue
        feasible += 1
        assert result.options, f"case {case}: brute force found {optimum:.2f} min"
        first = result.options[0]
        assert first.total_min == pytest.approx(optimum, abs=1e-6), f"case {case}"
        for option in result.options:
            check_safe(network, chargers, req, option)
        check_different(result.options)
    # the sample must exercise both outcomes, mostly feasible ones
    assert feasible >= 120 and infeasible >= 5, (feasible, infeasible)


def test_the_cheapest_option_is_within_its_bound_of_the_cheapest_plan():
    """Among plans at most CHEAPEST_SLACK slower than the fastest, the options offer one whose
    cost is within the weighted search's guarantee (objective ≤ w · optimum) of the cheapest an
    exhaustive search finds; when no option is labelled cheapest, an earlier option is it."""
    rng = random.Random(20261123)
    compared = labelled = 0
    for case in range(CASES):
        network, chargers, req = random_case(rng)
        result = plan(network, chargers, req, RoadDistances(network))
        if not result.options:
            continue
        cap = result.options[0].total_min * (1 + CHEAPEST_SLACK)
        optimum = brute_force_cheapest(network, chargers, req, cap)
        within = [o for o in result.options if o.total_min <= cap + 1e-6]
        best = min(within, key=lambda o: o.cost)
        bound = (
            ALTERNATIVE_WEIGHT * (optimum + CHEAPEST.time * cap) - CHEAPEST.time * best.total_min
        )
        assert best.cost <= bound + 1e-6, f"case {case}: {best.cost:.2f} vs optimum {optimum:.2f}"
        cheapest = [o for o in result.options if o.label == "cheapest"]
        assert not cheapest or cheapest[0].total_min <= cap + 1e-6
        compared += 1
        labelled += bool(cheapest)
    assert compared >= 120 and labelled >= 40, (compared, labelled)
