"""Planning time on synthetic networks: p50/p95 per size.

A random geometric road network (places scattered on a square, each joined to its nearest
neighbours), stations on random places with 1–4 connectors and random busy windows, and trips
between random places 600–1,200 km apart by road. Run: python bench/plan.py [--quick]
[--quality TRIPS] (the latter also measures the cheapest option against an exhaustive search)
[--against REV] (the planner of git revision REV on the same trips, the two alternating trip by
trip: a before/after comparison in one run). The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from network.distances import RoadDistances  # noqa: E402
from network.graph import Network, Place, Road  # noqa: E402
from planning import (  # noqa: E402
    Car,
    Charger,
    ChargerConnector,
    ChargerSet,
    TripRequest,
    plan,
    planner,
)


def synthetic(n_places: int, n_stations: int, rng: random.Random):
    side = math.sqrt(n_places) * 28.0  # ~28 km between neighbouring places
    pts = np.array([(rng.uniform(0, side), rng.uniform(0, side)) for _ in range(n_places)])
    tree = cKDTree(pts)
    _, nn = tree.query(pts, k=4)
    ids = [f"p{i}" for i in range(n_places)]
    places = {
        pid: Place(pid, pid, "XX", float(y) / 111, float(x) / 111)
        for pid, (x, y) in zip(ids, pts, strict=True)
    }
    seen, roads = set(), []
    for i, row in enumerate(nn):
        for j in row[1:]:
            a, b = min(i, j), max(i, j)
            if (a, b) not in seen:
                seen.add((a, b))
                roads.append(Road(ids[a], ids[b], float(np.linalg.norm(pts[a] - pts[b])) * 1.2 + 1))
    network = Network("synthetic", places, roads)
    chargers = []
    for s in range(n_stations):
        place = ids[rng.randrange(n_places)]
        conns = []
        for c in range(rng.randint(1, 4)):
            busy_at = rng.uniform(0, 1200)
            free = [(0.0, busy_at), (busy_at + rng.uniform(30, 180), 5000.0)]
            conns.append(
                ChargerConnector(
                    f"s{s}-c{c}",
                    rng.choice([50.0, 60.0, 120.0, 150.0]),
                    rng.uniform(1.2, 3.0),
                    "CCS2",
                    free,
                )
            )
        chargers.append(Charger(f"s{s}", rng.choice("abc"), place, conns))
    return network, chargers


CAR = Car(60.5, 0.162, 80.0, 7.0)  # BYD Yuan Plus


def trip_requests(network, dist, rng, **options):
    """Endless trips between random places 600–1,200 km apart by road, leaving at 80 %."""
    ids = list(network.places)
    while True:
        o, d = rng.sample(ids, 2)
        km = dist.from_places([o])[0][dist.index[d]]
        if 600 <= km <= 1200:
            yield TripRequest(o, d, datetime(2030, 1, 1, tzinfo=UTC), CAR, soc=0.8, **options)


def baseline_planner(rev: str):
    """The ``plan`` function of planning/planner.py as it was at git revision ``rev``."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{rev}:planning/planner.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "planner_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("planning.planner_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module.plan, module.ChargerSet


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, math.ceil(0.95 * len(times)) - 1)]


def measure(n_places, n_stations, trips, options, seed=1, baseline=None):
    rng = random.Random(seed)
    network, chargers = synthetic(n_places, n_stations, rng)
    dist = RoadDistances(network)
    # the server's snapshot of stations, prepared once and planned over many times
    t = time.perf_counter()
    prepared = ChargerSet(chargers)
    prepare_ms = (time.perf_counter() - t) * 1000
    old = (baseline[0], baseline[1](chargers)) if baseline else None
    times, before, feasible = [], [], 0
    for n, req in enumerate(trip_requests(network, dist, rng, options=options)):
        if len(times) == trips:
            break
        # with a baseline, the two alternate which goes first (drift of a noisy machine)
        order = ("new", "old") if n % 2 == 0 or old is None else ("old", "new")
        for which in order:
            if which == "old" and old is None:
                continue
            t = time.perf_counter()
            result = (
                plan(network, prepared, req, dist)
                if which == "new"
                else old[0](network, old[1], req, dist)
            )
            (times if which == "new" else before).append((time.perf_counter() - t) * 1000)
            feasible += bool(result.options) and which == "new"
    row = {
        "places": n_places,
        "stations": n_stations,
        "options": options,
        "trips": trips,
        "prepare_ms": round(prepare_ms, 1),
        "feasible": feasible,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_p95(times), 1),
    }
    if before:
        row.update(
            {
                "baseline_p50_ms": round(statistics.median(before), 1),
                "baseline_p95_ms": round(_p95(before), 1),
            }
        )
    return row


def cheapest_quality(n_places, n_stations, trips, seed=2):
    """The bounded cheapest search (what plan() runs) against an exhaustive one (weight 1, no
    budget) on the same trips: how much dearer, how much faster."""
    rng = random.Random(seed)
    network, chargers = synthetic(n_places, n_stations, rng)
    dist = RoadDistances(network)
    prepared = ChargerSet(chargers)
    gaps, bounded_ms, exact_ms = [], [], []
    for req in trip_requests(network, dist, rng):
        if len(gaps) == trips:
            break
        p = planner._Problem(prepared, req, dist)
        everyone = np.ones(p.n + 2, dtype=bool)
        fastest = planner._search(p, planner.FASTEST, everyone)
        if fastest is None:
            continue
        cap = fastest.total_min * (1 + planner.CHEAPEST_SLACK)
        t = time.perf_counter()
        bounded = planner._alternative(
            p, planner.CHEAPEST, everyone, cap, planner.ALTERNATIVE_WEIGHT
        )
        bounded_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        exact = planner._search(p, planner.CHEAPEST, everyone, cap)
        exact_ms.append((time.perf_counter() - t) * 1000)
        gaps.append(100 * (bounded.cost / exact.cost - 1) if bounded else math.inf)
    gaps.sort()
    return {
        "places": n_places,
        "stations": n_stations,
        "trips": trips,
        "dearer_p50_pct": round(statistics.median(gaps), 2),
        "dearer_max_pct": round(gaps[-1], 2),
        "bounded_p50_ms": round(statistics.median(bounded_ms), 1),
        "exact_p50_ms": round(statistics.median(exact_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    parser.add_argument(
        "--quality",
        type=int,
        default=0,
        metavar="TRIPS",
        help="also compare the cheapest option with an exhaustive search",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also time the planner of git revision REV on the same trips",
    )
    args = parser.parse_args()
    baseline = baseline_planner(args.against) if args.against else None
    sizes = [(1250, 1000), (5000, 5000), (5000, 20000), (12500, 50000)]
    trips = 40
    if args.quick:
        sizes, trips = [(1250, 1000), (5000, 20000)], 25
    rows = []
    for places, stations in sizes:
        for options in (1, 3):
            row = measure(places, stations, trips, options, baseline=baseline)
            rows.append(row)
            against = (
                f"  ({args.against}: p50 {row['baseline_p50_ms']:.1f} ms, "
                f"p95 {row['baseline_p95_ms']:.1f} ms)"
                if baseline
                else ""
            )
            print(
                f"{places:>6} places {stations:>6} stations  k={options}  "
                f"p50 {row['p50_ms']:>7.1f} ms  p95 {row['p95_ms']:>7.1f} ms  "
                f"(prepared in {row['prepare_ms']:.0f} ms)  "
                f"feasible {row['feasible']}/{trips}{against}",
                flush=True,
            )
    summary = {"bench": "plan", "results": rows}
    if args.quality:
        q = cheapest_quality(5000, 20000, args.quality)
        print(
            f"cheapest option at 20000 stations: {q['dearer_p50_pct']} % dearer than exhaustive "
            f"(median; max {q['dearer_max_pct']} %), {q['bounded_p50_ms']} ms vs "
            f"{q['exact_p50_ms']} ms (median)",
            flush=True,
        )
        summary["cheapest_quality"] = q
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
