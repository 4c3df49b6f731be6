"""POST /plans end to end over a federation of real servers, at national scale.

N real servers (each on its own throwaway PostgreSQL database), registered with each other,
each with S stations spread over the reference network's places (1–4 connectors, about one
connector in five with a confirmed reservation in the planning horizon). After a warm-up (the
copies of the peers' catalogs synchronised), 30 long trips are planned at company A, one after
the other. Reports per federation size: p50/p95 of ``POST /plans``; bytes received from peers
and requests made to them per plan (A's ``GET /peers`` traffic counters); CPU per plan in
every server process; and how many plans left a company out.

Run: python bench/plan_federation.py [--quick] [--sizes 3x50,3x1000,3x5000,10x2000].
``--quick`` (3×50 and 3×1000, 10 trips) takes under a minute. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from network.reference import load_reference  # noqa: E402
from tests.support import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

REGISTRATION = "bench-registration-secret"
COMPANIES = "abcdefghijklmnopqrstuvwxyz"
VEHICLE = {"model_id": "byd-dolphin", "soc": 0.9}


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(
    url: str, company: str, count: int, places: list, departure: datetime, rng: random.Random
) -> None:
    """``count`` stations straight into the company's database (the server is running: its
    schema exists), then one catalog version so every cache sees them."""
    stations, connectors, reservations = [], [], []
    now = datetime.now(UTC)
    for n in range(count):
        place = places[n % len(places)]
        sid = f"{company}-{place.id}-{n // len(places) + 1}"
        stations.append(
            (
                sid,
                company,
                place.id,
                f"{company.upper()} {place.name} {n}",
                place.lat,
                place.lon,
                "available",
                now,
            )
        )
        for k in range(rng.randint(1, 4)):
            cid = f"{sid}-c{k + 1}"
            power = rng.choice([50.0, 60.0, 120.0, 150.0])
            connectors.append((cid, sid, power, round(1.2 + power / 150, 2), "CCS2"))
            if rng.random() < 0.2:
                start = departure + timedelta(minutes=rng.randint(0, 36 * 60))
                reservations.append(
                    (
                        f"r-{cid}",
                        cid,
                        sid,
                        start,
                        start + timedelta(minutes=45),
                        "confirmed",
                        f"bk-{cid}",
                        now,
                        now,
                    )
                )
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO station (id, company, place_id, name, lat, lon, status, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            stations,
        )
        cur.executemany(
            "INSERT INTO connector (id, station_id, power_kw, price_per_kwh, "
            "standard) VALUES (%s, %s, %s, %s, %s)",
            connectors,
        )
        cur.executemany(
            "INSERT INTO reservation (id, connector_id, station_id, start_at, end_at, "
            "state, booking_id, leg_index, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s, %s)",
            reservations,
        )
        cur.execute(
            "INSERT INTO setting (key, value) VALUES ('catalog_version', '1') "
            "ON CONFLICT (key) DO UPDATE SET value = "
            "(setting.value::bigint + 1)::text"
        )
    # statistics, as autovacuum keeps them on a company's database: without them, right
    # after this bulk load the planner expected one reservation and chose nested loops
    with psycopg2.connect(url) as conn:
        conn.autocommit = True
        conn.cursor().execute("ANALYZE")


def percentiles(ms: list[float]) -> dict:
    """n, p50, p95 (nearest rank) and max of latencies in ms."""
    ordered = sorted(ms)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def servers_for(
    names: str, prefix: str, tmp: Path, threads: int
) -> tuple[dict[str, str], dict[str, ServerProcess]]:
    """A server per company of ``names``, each on a new PostgreSQL database (not started)."""
    urls = {c: create_pg_database(f"{prefix}_{c}") for c in names}
    return urls, {
        c: ServerProcess(
            c,
            urls[c],
            log_dir=tmp,
            RECARGA_REGISTRATION_TOKEN=REGISTRATION,
            RECARGA_VALIDATE_RESPONSES="0",
            RECARGA_THREADS=str(threads),
        )
        for c in names
    }


def close(urls: dict[str, str], servers: dict[str, ServerProcess]) -> None:
    for s in servers.values():
        s.stop()
    for url in urls.values():
        drop_pg_database(url)


def register(http: httpx.Client, a: ServerProcess, b: ServerProcess) -> None:
    """A registers with B; while the servers copy each other's catalogs a handshake may find
    the other busy past its timeout (503): try again, as an operator would."""
    for attempt in range(6):
        r = http.post(f"{a.api}/peers", headers=a.admin, json={"url": b.url})
        if r.status_code != 503:
            r.raise_for_status()
            return
        time.sleep(1 + attempt)
    r.raise_for_status()


def long_trips(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Pairs of places at least 500 km apart by road."""
    ref = load_reference()
    oracle = ref.distances
    pairs = []
    for a in oracle.ids:
        row = oracle.row(a)
        pairs += [(a, b) for i, b in enumerate(oracle.ids) if 500 <= row[i] < float("inf")]
    return rng.sample(sorted(pairs), count)


def run_size(n_companies: int, per_company: int, trips: int, tmp: Path) -> dict:
    rng = random.Random(n_companies * 100_000 + per_company)
    names = COMPANIES[:n_companies]
    urls, servers = servers_for(names, "recarga_planfed", tmp, threads=16)
    try:
        for s in servers.values():
            s.start()
        departure = (datetime.now(UTC) + timedelta(days=1)).replace(
            minute=0, second=0, microsecond=0
        )
        places = list(load_reference().network.places.values())
        for c in names:
            seed(urls[c], c, per_company, places, departure, rng)
        with httpx.Client(timeout=120) as http:
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    register(http, servers[a], servers[b])
            driver = http.post(
                f"{servers['a'].api}/drivers", headers=servers["a"].admin, json={"name": "bench"}
            ).json()
            headers = {"Authorization": f"Bearer {driver['token']}"}

            def plan(origin: str, destination: str) -> httpx.Response:
                return http.post(
                    f"{servers['a'].api}/plans",
                    headers=headers,
                    json={
                        "origin": origin,
                        "destination": destination,
                        "departure": departure.isoformat().replace("+00:00", "Z"),
                        "vehicle": VEHICLE,
                        "options": 3,
                    },
                )

            def peers_view() -> list[dict]:
                return http.get(f"{servers['a'].api}/peers", headers=servers["a"].admin).json()[
                    "items"
                ]

            journeys = long_trips(trips, rng)
            for origin, destination in journeys[:3]:  # warm-up: copies, caches, connections
                plan(origin, destination).raise_for_status()
            deadline = time.monotonic() + 180
            for c in names:  # steady state: every server holds a full copy of every peer
                while any(
                    p["catalog"]["stations"] != per_company
                    for p in http.get(f"{servers[c].api}/peers", headers=servers[c].admin).json()[
                        "items"
                    ]
                ):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the copies of the peers' catalogs did not synchronise")
                    time.sleep(0.5)
            before = {p["company"]: p["traffic"] for p in peers_view()}
            cpu_before = {c: cpu_seconds(s.proc.pid) for c, s in servers.items()}
            latencies, missing = [], 0
            for origin, destination in journeys:
                began = time.perf_counter()
                r = plan(origin, destination)
                latencies.append((time.perf_counter() - began) * 1000)
                r.raise_for_status()
                missing += bool(r.json()["companies_missing"])
            cpu = {
                c: round((cpu_seconds(s.proc.pid) - cpu_before[c]) / trips * 1000, 1)
                for c, s in servers.items()
            }
            after = {p["company"]: p["traffic"] for p in peers_view()}
        peers = [c for c in names if c != "a"]
        bytes_per_peer = [(after[c]["bytes_in"] - before[c]["bytes_in"]) / trips for c in peers]
        requests = sum(after[c]["requests"] - before[c]["requests"] for c in peers) / trips
        times = percentiles(latencies)
        return {
            "companies": n_companies,
            "stations_per_company": per_company,
            "stations": n_companies * per_company,
            "trips": trips,
            "p50_ms": times["p50_ms"],
            "p95_ms": times["p95_ms"],
            "kb_from_each_peer_per_plan": round(statistics.mean(bytes_per_peer) / 1024, 1),
            "kb_from_peers_per_plan": round(sum(bytes_per_peer) / 1024, 1),
            "peer_requests_per_plan": round(requests, 2),
            "cpu_ms_per_plan": cpu,
            "plans_missing_a_company": missing,
        }
    finally:
        close(urls, servers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3x50 and 3x1000, 10 trips")
    parser.add_argument("--sizes", help="companies x stations each, comma-separated")
    parser.add_argument("--trips", type=int)
    args = parser.parse_args()
    sizes = args.sizes or ("3x50,3x1000" if args.quick else "3x50,3x1000,3x5000,10x2000")
    trips = args.trips or (10 if args.quick else 30)
    tmp = Path(tempfile.mkdtemp(prefix="recarga-planfed-"))
    rows = []
    for size in sizes.split(","):
        n, s = (int(x) for x in size.lower().split("x"))
        row = run_size(n, s, trips, tmp)
        rows.append(row)
        print(
            f"{n:>2} companies × {s:>5} stations: p50 {row['p50_ms']:>6} ms p95 "
            f"{row['p95_ms']:>6} ms | {row['kb_from_each_peer_per_plan']:>6} KB from each "
            f"peer, {row['peer_requests_per_plan']} requests per plan | CPU ms per plan "
            f"{row['cpu_ms_per_plan']} | plans missing a company "
            f"{row['plans_missing_a_company']}",
            flush=True,
        )
    print(json.dumps({"bench": "plan_federation", "quick": args.quick, "results": rows}))


if __name__ == "__main__":
    main()
