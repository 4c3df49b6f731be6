"""What serving connexion's ASGI app under waitress costs per request: two bridges, side by side.

*a2wsgi*: the general bridge — the app on one shared event loop in a thread of its own, each
blocking handler on a worker thread of that loop (three threads per request). *thread-loop*:
``recarga.wsgi.ThreadLoopWSGI`` — the waitress worker thread runs the app on its own loop, the
handler inline. Each bridge serves the real company app (strict validation, security, the
guards; SQLite, one seeded station) in a child process; the parent sends sequential keep-alive
requests and reads the child's CPU time from /proc. Bridges alternate, ``--rounds`` times.

Run: python bench/http_bridge.py [--rounds 3] [--requests 1500] [--quick: one round of 200].
The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import free_port  # noqa: E402

BRIDGES = ("a2wsgi", "thread-loop")
ADMIN = "bench-admin-token"


def serve(bridge: str, port: int, db: str) -> None:
    """The child: the company app behind the chosen bridge, until killed."""
    import waitress
    from a2wsgi import ASGIMiddleware

    from recarga.app import build_context, create_app
    from recarga.config import Config
    from recarga.wsgi import ThreadLoopWSGI

    config = Config(
        company="a",
        admin_token=ADMIN,
        database_url=f"sqlite:///{db}",
        public_url=f"http://127.0.0.1:{port}",
        validate_responses=False,
    )
    ctx = build_context(config)
    app = create_app(config, ctx, handlers_inline=bridge == "thread-loop")
    if bridge == "thread-loop":
        wsgi = ThreadLoopWSGI(app)
        wsgi.startup()
    else:
        wsgi = ASGIMiddleware(app)
    waitress.serve(wsgi, host="127.0.0.1", port=port, threads=8)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(bridge: str, requests: int, tmp: Path) -> dict:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            bridge,
            "--port",
            str(port),
            "--db",
            str(tmp / f"{bridge}-{port}.db"),
        ]
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        admin = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get(f"{base}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{bridge}: the server did not start")
                time.sleep(0.1)
            station = client.post(
                f"{base}/stations",
                headers=admin,
                json={"place_id": "recife", "connectors": [{"power_kw": 150, "price_per_kwh": 2}]},
            )
            station.raise_for_status()
            paths = {
                "GET /health": f"{base}/health",
                "GET /stations/{id}": f"{base}/stations/{station.json()['id']}",
            }
            out = {}
            for name, url in paths.items():
                for _ in range(200):  # warm-up
                    client.get(url)
                cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                for _ in range(requests):
                    client.get(url).raise_for_status()
                wall = time.perf_counter() - t0
                out[name] = {
                    "cpu_ms": round((cpu_seconds(proc.pid) - cpu0) / requests * 1000, 3),
                    "wall_ms": round(wall / requests * 1000, 3),
                }
            return out
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--quick", action="store_true", help="one round of 200 requests")
    parser.add_argument("--serve", choices=BRIDGES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db)
        return 0
    if args.quick:
        args.rounds, args.requests = 1, 200
    runs: dict[str, list[dict]] = {b: [] for b in BRIDGES}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for bridge in BRIDGES if n % 2 == 0 else reversed(BRIDGES):
                row = measure(bridge, args.requests, Path(tmp))
                runs[bridge].append(row)
                print(
                    f"round {n + 1} {bridge:>11}: "
                    + " | ".join(
                        f"{k} {v['cpu_ms']:.2f} ms CPU, {v['wall_ms']:.2f} ms wall"
                        for k, v in row.items()
                    ),
                    flush=True,
                )
    summary = {}
    for bridge, rows in runs.items():
        summary[bridge] = {
            path: {
                "cpu_ms_median": round(statistics.median(r[path]["cpu_ms"] for r in rows), 3),
                "wall_ms_median": round(statistics.median(r[path]["wall_ms"] for r in rows), 3),
            }
            for path in rows[0]
        }
    ratios = {
        path: round(
            summary["thread-loop"][path]["cpu_ms_median"]
            / summary["a2wsgi"][path]["cpu_ms_median"],
            2,
        )
        for path in summary["a2wsgi"]
    }
    print(
        json.dumps(
            {
                "bench": "http_bridge",
                "rounds": args.rounds,
                "requests": args.requests,
                "medians": summary,
                "cpu_ratio_thread_loop_to_a2wsgi": ratios,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
