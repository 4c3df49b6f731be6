"""Options mean what their labels say (docs/planning.md, "What an option's label promises"),
checked by hypothesis over random small networks with contended chargers, against the
independent brute-force solvers of tests/planner_cases.py:

* "fastest" (always the first) arrives as early as any plan can, and at each of its stops no
  cheaper connector of that place could have given the same window (twins: the same power,
  free then);
* "fewest stops", when offered, has as few stops as any plan has, strictly fewer than every
  option offered before it;
* "cheapest", when offered, costs strictly less than every option offered before it;
* no option offered is dominated by another (no later, no dearer, no more stops, and better
  in one).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from network.distances import RoadDistances
from planning import plan
from planning.charging import EFFICIENCY, effective_power_kw
from planning.planner import SAME_COST, SAME_TIME_MIN
from tests.planner_cases import (
    brute_force_fastest,
    brute_force_fewest_stops,
    random_case,
)


def _dominates(q, o) -> bool:
    no_worse = (
        q.total_min <= o.total_min + SAME_TIME_MIN
        and q.cost <= o.cost + SAME_COST
        and len(q.stops) <= len(o.stops)
    )
    return no_worse and (
        q.total_min < o.total_min - SAME_TIME_MIN
        or q.cost < o.cost - SAME_COST
        or len(q.stops) < len(o.stops)
    )


@settings(
    max_examples=160, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(min_value=0, max_value=2**32 - 1))
# two stations at one place, the fast one free only briefly: charging there, then going on at
# the slow one across the street arrives 1.9 min earlier, outside the planner's decision
# space (a place's stations are one node); the oracle once counted it
@example(405)
def test_every_offered_option_is_what_its_label_says(seed):
    network, chargers, req = random_case(random.Random(seed))
    result = plan(network, chargers, req, RoadDistances(network))
    if not result.options:
        return
    fastest = result.options[0]
    assert fastest.label == "fastest"
    best_time = brute_force_fastest(network, chargers, req)
    assert fastest.total_min == pytest.approx(best_time, abs=1e-6)
    for stop in fastest.stops:
        twins = [
            c
            for ch in chargers
            if ch.place_id == stop.place_id
            for c in ch.connectors
            if effective_power_kw(c.power_kw, c.standard, req.car.max_charge_kw, req.car.max_ac_kw)
            == stop.power_kw
            and any(s <= stop.start_min + 1e-9 and stop.end_min <= e + 1e-9 for s, e in c.free)
        ]
        assert min(c.price_per_kwh for c in twins) == pytest.approx(
            stop.cost / (stop.energy_kwh / EFFICIENCY)
        ), stop
    for i, option in enumerate(result.options):
        before = result.options[:i]
        if option.label == "fewest stops":
            assert len(option.stops) == brute_force_fewest_stops(network, chargers, req)
            assert all(len(option.stops) < len(o.stops) for o in before)
        if option.label == "cheapest":
            assert all(option.cost < o.cost - SAME_COST for o in before)
        for other in result.options:
            assert other is option or not _dominates(other, option), (other, option)


def test_the_labels_are_exercised():
    """The sample above is not vacuous: over the same kind of cases, options other than the
    fastest are offered, fewest-stops and cheapest among them."""
    seen: dict[str, int] = {}
    rng = random.Random(20261205)
    for _ in range(160):
        network, chargers, req = random_case(rng)
        for option in plan(network, chargers, req, RoadDistances(network)).options[1:]:
            label = option.label.split()[0]
            seen[label] = seen.get(label, 0) + 1
    assert seen.get("fewest", 0) >= 5 and seen.get("cheapest", 0) >= 20, seen
