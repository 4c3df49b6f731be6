"""What a participant's database work costs, two ways side by side.

A participant's prepare and commit (``service.protocol.participant``, in-process, on a
throwaway PostgreSQL database: the real queries, no HTTP) run in a loop, one booking leg after
another, each way of ``--compare`` in turn, ``--rounds`` times; reported per prepare + commit:
wall time, this process's CPU and the database backends' CPU (from /proc).

* ``--compare pool`` (the default): ``storage.database.CheckedPool`` as it serves (a connection
  handed back less than ``RECHECK_AFTER`` ago goes out again without a ``SELECT 1``) against
  ``RECHECK_AFTER = 0`` (every checkout checked, as peewee 4's own pool does);
* ``--compare statements``: the hot path's statements built once (``storage.statements``)
  against built by peewee on every call (``BUILD_ONCE = False``).

Run: python bench/pool_checkout.py [--compare pool|statements] [--rounds 3] [--legs 400]
[--quick]. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking.messages import PrepareLeg  # noqa: E402
from booking.model import Window, utcnow  # noqa: E402
from booking.wire import Prepare  # noqa: E402
from network import load_reference  # noqa: E402
from recarga.app import wire  # noqa: E402
from service.catalogs import stations  # noqa: E402
from service.company.context import Context  # noqa: E402
from service.protocol import participant  # noqa: E402
from storage import Store, statements  # noqa: E402
from tests.support import create_pg_database, drop_pg_database  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(store: Store) -> float:
    """CPU seconds of every backend of this benchmark's database (their pids from
    pg_stat_activity, their times from /proc: PostgreSQL runs on this machine)."""
    with store.connection():
        pids = [
            r[0]
            for r in store.db.execute_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchall()
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def run(ctx: Context, station, legs: int, first: int) -> dict:
    connector = station.connectors[0]
    t0 = utcnow() + timedelta(days=1)
    cpu0, wall0, db0 = time.process_time(), time.perf_counter(), backend_cpu(ctx.store)
    for n in range(first, first + legs):
        start = t0 + timedelta(minutes=31 * n)
        tx_id = f"tx-{n}"
        vote = participant.prepare(
            ctx,
            tx_id,
            Prepare(
                "b",
                f"bk-{n}",
                utcnow(),
                f"car-{n}",
                [
                    PrepareLeg(
                        0, station.id, connector.id, Window(start, start + timedelta(minutes=30))
                    )
                ],
            ),
        )
        assert vote.yes, vote
        assert participant.commit(ctx, tx_id, coordinator="b") == "committed"
    wall = time.perf_counter() - wall0
    return {
        "wall_ms": 1000 * wall / legs,
        "cpu_ms": 1000 * (time.process_time() - cpu0) / legs,
        "db_cpu_ms": 1000 * (backend_cpu(ctx.store) - db0) / legs,
    }


def _recheck_after(seconds: float):
    def switch(store: Store) -> None:
        store.db.RECHECK_AFTER = seconds

    return switch


def _build_once(once: bool):
    def switch(store: Store) -> None:
        statements.BUILD_ONCE = once

    return switch


# per comparison, the way kept first, then the one it is measured against
COMPARISONS = {
    "pool": {
        "no round trip (kept)": _recheck_after(1.0),
        "SELECT 1 per checkout": _recheck_after(0.0),
    },
    "statements": {"built once (kept)": _build_once(True), "built per call": _build_once(False)},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--legs", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="one round of 40 legs per mode")
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="pool")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.legs = 1, 40
    url = create_pg_database("recarga_bench_pool")
    store = Store(url)
    ctx = wire(Context(company="a", store=store, reference=load_reference()))
    try:
        station = stations.create_station(
            ctx, "recife", [{"power_kw": 150, "price_per_kwh": 2.0}] * 2
        )
        modes = COMPARISONS[args.compare]
        results: dict[str, list[dict]] = {m: [] for m in modes}
        first = 0
        run(ctx, station, 50, first)  # warm-up
        first += 50
        for _ in range(args.rounds):
            for mode, switch in modes.items():
                switch(store)
                results[mode].append(run(ctx, station, args.legs, first))
                first += args.legs
        summary = {}
        for mode, rows in results.items():
            summary[mode] = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
            print(
                f"{mode:24s} per prepare + commit: wall {summary[mode]['wall_ms']:.2f} ms, "
                f"CPU here {summary[mode]['cpu_ms']:.2f} ms, database {summary[mode]['db_cpu_ms']:.2f} ms"
                f"  (rounds: {[round(r['wall_ms'], 2) for r in rows]})"
            )
        kept, old = (summary[mode] for mode in modes)
        ratios = {k: round(kept[k] / old[k], 3) for k in kept if old[k]}
        print(
            json.dumps(
                {
                    "bench": "pool_checkout",
                    "compare": args.compare,
                    "legs": args.legs,
                    **summary,
                    "ratio": ratios,
                }
            )
        )
    finally:
        ctx.pool.shutdown()
        store.close()
        drop_pg_database(url)


if __name__ == "__main__":
    main()
