"""The console's data operations at size: 1,000 stations and 10,000 reservations at company A.

Three real servers on PostgreSQL (A with 1,000 stations and 10,000 reservations over a week
in every state, a third of them coordinated by a peer; B and C with 1,000 stations each, so
A's map holds 3,000), 30 real bookings made at A. Then, against A:

1. each of the console's views asked ``--samples`` times one after the other, whole (200)
   and as a console's poll with its ETag (304): p50/p95/max in ms. The map is shared by every
   console for half a second (``service.monitor.MAP_TTL``); its "computed" row spaces the
   requests past that, so each one gathers from the peers again;
2. K consoles each polling as the console does (the live map and the timeline every second,
   the federation panel every third) (what the console does) for
   ``--seconds``: A's CPU and the polls' p95, for K = 1, 10, 50 (what N open consoles cost).

Run: python bench/console_views.py [--quick]. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parent))  # plan_federation, after the packages

from plan_federation import (  # noqa: E402
    close,
    cpu_seconds,
    percentiles,
    register,
    seed,
    servers_for,
)

from network.reference import load_reference  # noqa: E402

STATES = [
    ("confirmed", 0.55),
    ("completed", 0.2),
    ("cancelled", 0.1),
    ("held", 0.05),
    ("no_show", 0.05),
    ("preempted", 0.05),
]
ACTIVE = {"confirmed", "held", "charging"}


def fill_reservations(url: str, count: int, rng: random.Random) -> int:
    """``count`` reservations of A's connectors from a day ago to six days ahead, never
    overlapping on a connector; a third with a participant record naming peer B."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM reservation")
        cur.execute("SELECT id, station_id FROM connector ORDER BY id")
        connectors = cur.fetchall()
        per = count // len(connectors) + 1
        rows, records = [], []
        states, weights = zip(*STATES, strict=True)
        for cid, sid in connectors:
            start = now - timedelta(days=1) + timedelta(minutes=rng.randint(0, 300))
            for k in range(per):
                if len(rows) == count:
                    break
                end = start + timedelta(minutes=rng.choice([30, 40, 45, 60]))
                state = rng.choices(states, weights)[0]
                rid = f"r-{cid}-{k}"
                tx = f"tx-{rid}" if rng.random() < 1 / 3 else None
                rows.append((rid, cid, sid, start, end, state, f"bk-{rid}", tx, now, now))
                if tx:
                    records.append((tx, "b", f"bk-{rid}", "committed", now, now, now))
                # a week holds them all: about 1,500 meet the console's default 26-hour window
                start = end + timedelta(minutes=rng.randint(600, 4000))
        cur.executemany(
            "INSERT INTO reservation (id, connector_id, station_id, start_at, "
            "end_at, state, booking_id, tx_id, leg_index, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s)",
            rows,
        )
        cur.executemany(
            "INSERT INTO participant_tx (tx_id, coordinator, booking_id, state, "
            "priority_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            records,
        )
        return len(rows)


def timed(
    http: httpx.Client, url: str, headers: dict, samples: int, etag: bool, spacing: float = 0.0
) -> dict:
    ms, sizes = [], []
    changed = 0
    tag = http.get(url, headers=headers).headers.get("ETag") if etag else None
    fresh = url.endswith("?from=")  # a new window each time: from 2 h ago, minus n minutes
    for n in range(samples):
        if fresh:
            start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
                hours=2, minutes=n + 1
            )
            url = (
                f"{url.split('?')[0]}?from={start:%Y-%m-%dT%H:%M:00Z}"
                f"&to={start + timedelta(hours=26):%Y-%m-%dT%H:%M:00Z}"
            )
        began = time.perf_counter()
        r = http.get(url, headers={**headers, **({"If-None-Match": tag} if tag else {})})
        ms.append((time.perf_counter() - began) * 1000)
        # a poll may find the view changed meanwhile (the federation panel's last recovery
        # sweep moves every 2 s): then it is a 200 with the new ETag, as in a console
        assert r.status_code in ((304, 200) if etag else (200,)), (url, r.status_code)
        changed += r.status_code == 200 and bool(etag)
        if etag and r.status_code == 200:
            tag = r.headers["ETag"]
        sizes.append(len(r.content))
        if spacing:
            time.sleep(spacing)
    return {
        **percentiles(ms),
        "bytes": round(statistics.mean(sizes)),
        **({"changed": changed} if etag else {}),
    }


def consoles(base: str, headers: dict, count: int, seconds: float, pid: int) -> dict:
    """``count`` consoles, each polling as the console does, with its ETags: every second the
    live map and the timeline, every third second the federation panel (the stations are
    asked again only when a catalog version changes: never here)."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def console(offset: float) -> None:
        tags: dict[str, str] = {}
        with httpx.Client(timeout=30, headers=headers) as http:
            http.get(base + "/monitor/stations").raise_for_status()
            time.sleep(offset)
            polls = 0
            while time.monotonic() < stop:
                tick = time.monotonic()
                views = ["/monitor/map", "/monitor/timeline"]
                if polls % 3 == 0:
                    views.append("/monitor/federation")
                polls += 1
                for view in views:
                    began = time.perf_counter()
                    r = http.get(base + view, headers={"If-None-Match": tags.get(view, "")})
                    with lock:
                        latencies.append((time.perf_counter() - began) * 1000)
                        errors[0] += r.status_code not in (200, 304)
                    if r.status_code == 200:
                        tags[view] = r.headers["ETag"]
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    threads = [threading.Thread(target=console, args=(i / count,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = cpu_seconds(pid) - cpu0
    wall = time.monotonic() - wall0
    return {
        "consoles": count,
        "polls": len(latencies),
        "errors": errors[0],
        "server_cpu_percent": round(100 * cpu / wall, 1),
        "cpu_ms_per_console_second": round(1000 * cpu / wall / count, 2),
        **{k: v for k, v in percentiles(latencies).items() if k != "n"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter runs")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--only", default="", help="only the views whose name holds this")
    args = parser.parse_args()
    samples = 40 if args.quick else args.samples
    seconds = 5 if args.quick else args.seconds
    loads = (1, 10) if args.quick else (1, 10, 50)
    rng = random.Random(16)
    names = "abc"
    tmp = Path(tempfile.mkdtemp(prefix="console-bench-"))
    urls, servers = servers_for(names, "recarga_bench_console", tmp, threads=64)
    try:
        for s in servers.values():
            s.start()
        places = list(load_reference().network.places.values())
        departure = datetime.now(UTC) + timedelta(days=1)
        for c in names:
            seed(urls[c], c, 1000, places, departure, rng)
        reservations = fill_reservations(urls["a"], 10_000, rng)
        a = servers["a"]
        base = a.api
        with httpx.Client(timeout=120) as http:
            for i, x in enumerate(names):
                for y in names[i + 1 :]:
                    register(http, servers[x], servers[y])
            deadline = time.monotonic() + 120
            while (
                sum(
                    p["catalog"]["stations"]
                    for p in http.get(f"{base}/peers", headers=a.admin).json()["items"]
                )
                != 2000
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("A's copies of the peers' catalogs did not synchronise")
                time.sleep(0.5)
            # 30 real bookings at A (the federation panel's transactions, a hover's legs)
            driver = http.post(f"{base}/drivers", headers=a.admin, json={"name": "bench"}).json()
            mine = http.get(f"{base}/stations", params={"limit": 30}).json()["items"]
            when = (datetime.now(UTC) + timedelta(days=9)).replace(second=0, microsecond=0)
            booked = []
            for n, station in enumerate(mine):
                start = when + timedelta(hours=n)
                r = http.post(
                    f"{base}/bookings",
                    json={
                        "car_id": f"bench-{n}",
                        "legs": [
                            {
                                "company": "a",
                                "station_id": station["id"],
                                "connector_id": station["connectors"][0]["id"],
                                "start": start.isoformat(),
                                "end": (start + timedelta(minutes=30)).isoformat(),
                            }
                        ],
                    },
                    headers={"Authorization": f"Bearer {driver['token']}"},
                )
                r.raise_for_status()
                booked.append(r.json()["booking_id"])
            with psycopg2.connect(urls["a"]) as conn, conn.cursor() as cur:
                cur.execute("SELECT id FROM reservation WHERE booking_id = %s", (booked[0],))
                hover = cur.fetchone()[0]
                cur.execute("SELECT count(*) FROM reservation")
                total_reservations = cur.fetchone()[0]
            views = {
                "stations (3,000)": (f"{base}/monitor/stations", 0.0),
                "map (shared)": (f"{base}/monitor/map", 0.0),
                "map (computed)": (f"{base}/monitor/map", 0.55),
                "timeline 24 h": (f"{base}/monitor/timeline", 0.0),
                # a window not asked before at each request: read and built every time
                "timeline 24 h (uncached)": (f"{base}/monitor/timeline?from=", 0.0),
                "timeline 7 days": (
                    f"{base}/monitor/timeline?from="
                    f"{(datetime.now(UTC) - timedelta(days=1)):%Y-%m-%dT%H:%M:00Z}"
                    f"&to={(datetime.now(UTC) + timedelta(days=6)):%Y-%m-%dT%H:%M:00Z}",
                    0.0,
                ),
                "federation": (f"{base}/monitor/federation", 0.0),
                "booking legs (hover)": (f"{base}/monitor/reservations/{hover}/booking", 0.0),
            }
            for url, _ in views.values():  # warm-up
                http.get(url.removesuffix("?from="), headers=a.admin).raise_for_status()
            results = {}
            print(f"server A: pid {a.proc.pid}", flush=True)
            for name, (url, spacing) in views.items():
                if args.only not in name:
                    continue
                n = max(20, samples // 5) if spacing else samples
                results[name] = {"whole": timed(http, url, a.admin, n, False, spacing)}
                if not any(k in name for k in ("hover", "computed", "uncached")):
                    results[name]["poll (304)"] = timed(http, url, a.admin, n, True)
                print(name, json.dumps(results[name]), flush=True)
            load = []
            for count in loads if not args.only else ():
                load.append(consoles(base, a.admin, count, seconds, a.proc.pid))
                print(json.dumps(load[-1]), flush=True)
        worst = max(r["whole"]["p95_ms"] for r in results.values())
        print(
            json.dumps(
                {
                    "stations_at_a": 1000,
                    "stations_on_map": 3000,
                    "reservations_at_a": total_reservations,
                    "reservations_seeded": reservations,
                    "views": results,
                    "consoles": load,
                    "worst_p95_ms": worst,
                }
            )
        )
    finally:
        close(urls, servers)


if __name__ == "__main__":
    main()
