"""What checking a refused leg's alternatives costs (docs/planning.md, "Alternatives for a
refused leg"): on the synthetic networks of bench/plan.py, a trip is planned, each of its
stops in turn is refused, and every connector within 60 km of it is a candidate. Timed:
``planning.replacement.replacements`` (every candidate sized and the whole trip re-simulated
with it) and ``leg_replacements`` (the legs-only check), against planning the trip itself.

Run: python bench/alternatives.py [--quick]. The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan import _p95, synthetic, trip_requests  # noqa: E402
from network.distances import RoadDistances  # noqa: E402
from planning import ChargerSet, plan  # noqa: E402
from planning.charging import effective_power_kw  # noqa: E402
from planning.replacement import (  # noqa: E402
    Candidate,
    Reserved,
    leg_replacements,
    replacements,
)

NEAR_KM = 60.0


def measure(n_places: int, n_stations: int, trips: int, seed: int = 3) -> dict:
    rng = random.Random(seed)
    network, chargers = synthetic(n_places, n_stations, rng)
    dist = RoadDistances(network)
    prepared = ChargerSet(chargers)
    by_place: dict[str, list] = {}
    for ch in chargers:
        by_place.setdefault(ch.place_id, []).append(ch)
    km = dist.between

    plan_ms, full_ms, legs_ms, counts, offered = [], [], [], [], 0
    for req in trip_requests(network, dist, rng, options=1):
        if len(plan_ms) == trips:
            break
        t = time.perf_counter()
        result = plan(network, prepared, req, dist)
        elapsed = (time.perf_counter() - t) * 1000
        if not result.options or not result.options[0].stops:
            continue
        plan_ms.append(elapsed)
        stops = result.options[0].stops
        booked = [Reserved(s.place_id, s.power_kw, s.start_min, s.end_min) for s in stops]
        for i, stop in enumerate(stops):
            near = dist.row(stop.place_id, NEAR_KM)
            candidates = [
                Candidate(
                    c.connector_id,
                    ch.place_id,
                    effective_power_kw(
                        c.power_kw, c.standard, req.car.max_charge_kw, req.car.max_ac_kw
                    ),
                    c.price_per_kwh,
                    c.free,
                )
                for place in dist.ids
                if near[dist.index[place]] != float("inf")
                for ch in by_place.get(place, ())
                for c in ch.connectors
            ]
            counts.append(len(candidates))
            t = time.perf_counter()
            found, _ = replacements(req, booked, i, candidates, km)
            full_ms.append((time.perf_counter() - t) * 1000)
            offered += bool(found)
            following = booked[i + 1] if i + 1 < len(booked) else None
            t = time.perf_counter()
            leg_replacements(
                Reserved(stop.place_id, stop.power_kw, stop.start_min, stop.end_min),
                following,
                candidates,
                km,
                req.speed_kmh,
                req.stop_overhead_min,
            )
            legs_ms.append((time.perf_counter() - t) * 1000)
    return {
        "places": n_places,
        "stations": n_stations,
        "trips": len(plan_ms),
        "refused_legs": len(full_ms),
        "with_alternatives": offered,
        "candidates_p50": statistics.median(counts),
        "candidates_max": max(counts),
        "plan_p50_ms": round(statistics.median(plan_ms), 2),
        "trip_check_p50_ms": round(statistics.median(full_ms), 2),
        "trip_check_p95_ms": round(_p95(full_ms), 2),
        "legs_check_p50_ms": round(statistics.median(legs_ms), 2),
        "legs_check_p95_ms": round(_p95(legs_ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [(400, 2_000, 10)] if args.quick else [(400, 2_000, 30), (2_500, 20_000, 30)]
    results = []
    for n_places, n_stations, trips in sizes:
        row = measure(n_places, n_stations, trips)
        results.append(row)
        print(
            f"{n_stations:>6} stations: {row['refused_legs']} refused legs, "
            f"{row['candidates_p50']:.0f} candidates (max {row['candidates_max']}); "
            f"trip check p50 {row['trip_check_p50_ms']} ms p95 {row['trip_check_p95_ms']} ms; "
            f"legs check p50 {row['legs_check_p50_ms']} ms; plan p50 {row['plan_p50_ms']} ms",
            flush=True,
        )
    print(json.dumps({"alternatives": results}))


if __name__ == "__main__":
    main()
