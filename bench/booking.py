"""Federated 3-company bookings against a centralised baseline, side by side in one run.

Three real servers (A, B, C), each on its own throwaway PostgreSQL database, registered as
peers. *Federated*: a client asks B to book one leg at each of A, B and C — a two-phase commit
over the REST API. *Centralised*: the same three legs (same places, same windows, same sizes)
all at B's own stations, booked at B — the same code path with one participant and no HTTP
between servers. Closed-loop clients at 1, 8 and 32 concurrency; windows never conflict, so
every booking is a full prepare + commit. Reports throughput (bookings/s), p50 and p99
latency (ms) per mode and concurrency, the throughput ratio federated/centralised, and the CPU
each booking cost in every server process and in PostgreSQL (what bounds throughput here).
Then an open-loop curve: federated bookings arriving as a Poisson process at fractions of the
capacity just measured (the best closed-loop federated throughput), 30 s each, latency counted
from each booking's scheduled instant (no coordinated omission): p50/p99 against offered rate.

Run: python bench/booking.py [--quick]. The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

PLACES = {"a": "recife", "b": "maceio", "c": "aracaju"}
REGISTRATION = "bench-registration-secret"


def start(tmp: Path) -> tuple[dict[str, ServerProcess], list[str]]:
    urls = [create_pg_database(f"recarga_bench_{c}") for c in "abc"]
    servers = {
        c: ServerProcess(
            c,
            url,
            log_dir=tmp,
            RECARGA_REGISTRATION_TOKEN=REGISTRATION,
            RECARGA_VALIDATE_RESPONSES="0",
        )
        for c, url in zip("abc", urls, strict=True)
    }
    for s in servers.values():
        s.start()
    for a, b in (("a", "b"), ("a", "c"), ("b", "c")):
        r = httpx.post(
            f"{servers[a].api}/peers",
            headers=servers[a].admin,
            json={"url": servers[b].url},
            timeout=30,
        )
        r.raise_for_status()
    return servers, urls


def stop(servers: dict[str, ServerProcess], urls: list[str]) -> None:
    """Stop the servers ``start`` started and drop their databases."""
    for s in servers.values():
        s.stop()
    for url in urls:
        drop_pg_database(url)


def station(server: ServerProcess, place: str) -> dict:
    r = httpx.post(
        f"{server.api}/stations",
        headers=server.admin,
        timeout=30,
        json={"place_id": place, "connectors": [{"power_kw": 150, "price_per_kwh": 2.0}] * 8},
    )
    r.raise_for_status()
    return r.json()


def legs_for(stations: list[dict], t0: datetime, n: int) -> list[dict]:
    """The legs of booking number ``n``: one per station, never overlapping another number's."""
    connector, block = n % 8, n // 8  # 8 connectors per station, then later windows
    out = []
    for k, st in enumerate(stations):
        start = t0 + timedelta(minutes=block * 35 + k * 300)
        out.append(
            {
                "company": st["company"],
                "station_id": st["id"],
                "connector_id": st["connectors"][connector]["id"],
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            }
        )
    return out


def first_window() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def run(
    url: str | list[str],
    stations: list[dict],
    clients: int,
    total: int,
    slot: itertools.count,
    headers: dict | None = None,
):
    """``total`` bookings by ``clients`` closed-loop clients; returns latencies (s), wall (s).
    Several ``url``: the company's processes, client *i* on the *i*-th (round robin, as a load
    balancer would spread them)."""
    targets = [url] if isinstance(url, str) else url
    order = itertools.count()
    t0 = first_window()
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    remaining = itertools.count()

    def client():
        target = targets[next(order) % len(targets)]
        with httpx.Client(timeout=60, headers=headers) as http:
            while next(remaining) < total:
                n = next(slot)
                began = time.perf_counter()
                r = http.post(
                    f"{target}/bookings",
                    json={"car_id": f"bench-{n}", "legs": legs_for(stations, t0, n)},
                )
                took = time.perf_counter() - began
                with lock:
                    (latencies if r.status_code == 201 else failures).append(
                        took if r.status_code == 201 else f"{r.status_code}: {r.text[:200]}"
                    )

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if failures:
        print(f"  {len(failures)} bookings failed, e.g. {failures[0]}", file=sys.stderr)
    return latencies, wall


def open_loop(
    url: str,
    stations: list[dict],
    rate: float,
    seconds: float,
    slot: itertools.count,
    headers: dict,
    seed: int,
) -> dict:
    """Bookings arriving as a Poisson process of ``rate`` per second for ``seconds``: each is
    sent at its scheduled instant whatever the others are doing, and its latency runs from
    that instant (a late send counts against the server: no coordinated omission)."""
    rng = random.Random(seed)
    schedule, t = [], rng.expovariate(rate)
    while t < seconds:
        schedule.append(t)
        t += rng.expovariate(rate)
    t0 = first_window()
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    with (
        httpx.Client(timeout=60, headers=headers, limits=limits) as http,
        ThreadPoolExecutor(256) as pool,
    ):

        def one(intended: float) -> None:
            n = next(slot)
            try:
                r = http.post(
                    f"{url}/bookings",
                    json={"car_id": f"bench-{n}", "legs": legs_for(stations, t0, n)},
                )
                status = r.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            took = time.perf_counter() - intended
            with lock:
                (latencies if status == 201 else failures).append(took if status == 201 else status)

        began = time.perf_counter()
        for at in schedule:
            delay = began + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, began + at)
    row = summary(latencies, seconds)
    row.update(
        offered=rate,
        failed=len(failures),
        failures={str(k): failures.count(k) for k in sorted(set(failures), key=str)},
    )
    return row


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc); 0 for those gone or unreadable."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every PostgreSQL process of this machine (the bench is meant to run alone on it)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def measured_run(
    servers: dict[str, ServerProcess],
    stations: list[dict],
    clients: int,
    total: int,
    slot: itertools.count,
    coordinators: list[ServerProcess] | None = None,
) -> dict:
    """``run`` at B plus where the CPU went: ms of CPU per booking in each company's server
    process and in PostgreSQL (all its processes). On a machine shared by everything, the sum
    bounds the throughput: 1,000 × cores / sum bookings per second at best. ``coordinators``:
    B's processes the clients spread over (default: B's one); B's CPU counts them all."""
    coordinators = coordinators or [servers["b"]]
    pids = {c: [s.proc.pid] for c, s in servers.items()}
    pids["b"] = sorted({servers["b"].proc.pid, *(s.proc.pid for s in coordinators)})
    before = {c: cpu_seconds(p) for c, p in pids.items()}
    # PostgreSQL's backends per pid: one a pool opens during the run (the first time this
    # many clients book at once) counts from zero; listed only before, it was missed
    pg_before = {pid: cpu_seconds([pid]) for pid in postgres_pids()}
    latencies, wall = run(
        [s.api for s in coordinators], stations, clients, total, slot, servers["b"].admin
    )
    pg_used = sum(cpu_seconds([pid]) - pg_before.get(pid, 0.0) for pid in postgres_pids())
    row = summary(latencies, wall)
    n = max(len(latencies), 1)
    row["cpu_ms_per_booking"] = {
        **{c: round((cpu_seconds(p) - before[c]) / n * 1000, 1) for c, p in pids.items()},
        "postgres": round(pg_used / n * 1000, 1),
    }
    return row


def summary(latencies: list[float], wall: float) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))] if ms else None
    return {
        "bookings": len(ms),
        "throughput": round(len(ms) / wall, 1),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(p99, 1) if p99 is not None else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer bookings (under a minute)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument(
        "--replicas",
        action="store_true",
        help="also federated bookings with the coordinating company (B) as two "
        "processes on its one database, clients spread over both, side by "
        "side with B as one process",
    )
    parser.add_argument(
        "--no-open-loop",
        dest="open_loop",
        action="store_false",
        help="skip the open-loop curve (Poisson arrivals at fractions of the "
        "measured federated capacity, 30 s each; 10 s with --quick)",
    )
    args = parser.parse_args()
    per_client = 6 if args.quick else 25
    minimum = 30 if args.quick else 150
    tmp = Path(tempfile.mkdtemp(prefix="recarga-bench-"))
    servers, urls = start(tmp)
    rows: list[dict] = []
    curve: list[dict] = []
    replicas: list[dict] = []
    second: ServerProcess | None = None
    try:
        federated = [station(servers[c], PLACES[c]) for c in "abc"]
        central = [station(servers["b"], PLACES[c]) for c in "abc"]
        slot = itertools.count()
        # warm-up: connections, caches
        run(servers["b"].api, federated, 4, 20, slot, servers["b"].admin)
        run(servers["b"].api, central, 4, 20, slot, servers["b"].admin)
        for clients in (int(c) for c in args.concurrency.split(",")):
            total = max(minimum, clients * per_client)
            row = {"clients": clients}
            # interleave the two modes so machine noise hits both alike
            for mode, stations in (("federated", federated), ("centralised", central)):
                row[mode] = measured_run(servers, stations, clients, total, slot)
            row["ratio"] = round(
                row["federated"]["throughput"] / row["centralised"]["throughput"], 2
            )
            rows.append(row)
            f, c = row["federated"], row["centralised"]
            print(
                f"{clients:>3} clients  federated {f['throughput']:>6}/s p50 {f['p50_ms']:>7} ms "
                f"p99 {f['p99_ms']:>7} ms | centralised {c['throughput']:>6}/s "
                f"p50 {c['p50_ms']:>7} ms p99 {c['p99_ms']:>7} ms | ratio {row['ratio']}\n"
                f"      CPU ms per booking: federated {f['cpu_ms_per_booking']} | "
                f"centralised {c['cpu_ms_per_booking']}",
                flush=True,
            )
        if args.replicas:
            second = ServerProcess(
                "b",
                urls[1],
                log_dir=tmp,
                RECARGA_REPLICA="2",
                RECARGA_REGISTRATION_TOKEN=REGISTRATION,
                RECARGA_VALIDATE_RESPONSES="0",
            ).start()
            run([servers["b"].api, second.api], federated, 4, 20, slot, servers["b"].admin)
            for clients in (int(c) for c in args.concurrency.split(",")):
                total = max(minimum, clients * per_client)
                row = {"clients": clients}
                for label, procs in (
                    ("one_process", [servers["b"]]),
                    ("two_processes", [servers["b"], second]),
                ):
                    row[label] = measured_run(servers, federated, clients, total, slot, procs)
                one, two = row["one_process"], row["two_processes"]
                row["throughput_ratio"] = round(two["throughput"] / one["throughput"], 2)
                cpu = {
                    k: sum(r["cpu_ms_per_booking"].values())
                    for k, r in (("one", one), ("two", two))
                }
                row["cpu_ratio"] = round(cpu["two"] / cpu["one"], 2)
                replicas.append(row)
                print(
                    f"{clients:>3} clients  B as one process {one['throughput']:>6}/s "
                    f"p50 {one['p50_ms']} ms, {cpu['one']:.1f} ms CPU | as two "
                    f"{two['throughput']:>6}/s p50 {two['p50_ms']} ms, {cpu['two']:.1f} ms CPU "
                    f"| throughput {row['throughput_ratio']}, CPU {row['cpu_ratio']}",
                    flush=True,
                )
        if args.open_loop:
            # the federated capacity: the best closed-loop federated throughput measured above
            capacity = max(r["federated"]["throughput"] for r in rows)
            seconds = 10 if args.quick else 30
            fractions = (0.5, 1.0) if args.quick else (0.25, 0.5, 0.75, 0.9, 1.0, 1.1)
            for k, fraction in enumerate(fractions):
                point = open_loop(
                    servers["b"].api,
                    federated,
                    capacity * fraction,
                    seconds,
                    slot,
                    servers["b"].admin,
                    seed=k,
                )
                point["fraction_of_capacity"] = fraction
                curve.append(point)
                print(
                    f"open loop {fraction:>4.0%} of {capacity}/s: offered "
                    f"{point['offered']:.1f}/s served {point['throughput']}/s p50 "
                    f"{point['p50_ms']} ms p99 {point['p99_ms']} ms failed "
                    f"{point['failed']}",
                    flush=True,
                )
    finally:
        if second is not None:
            second.stop()
        stop(servers, urls)
    print(
        json.dumps(
            {
                "bench": "booking",
                "quick": args.quick,
                "results": rows,
                "open_loop": curve,
                "replicas": replicas,
            }
        )
    )


if __name__ == "__main__":
    main()
