"""Where a federated booking's CPU goes, in each server process: py-spy on A, B and C at once.

The servers of ``bench/booking.py`` (three companies, each on its own PostgreSQL database; B
coordinates a leg at each of A, B and C). One client books sequentially for ``--seconds``
while ``py-spy record --gil`` samples every server process (only samples holding the
interpreter: CPU spent in Python or in C called from it). Each sample goes to the package of
its innermost frame that is not the standard library's plumbing (waitress, connexion,
starlette, jsonschema, urllib3 (the peer client), peewee, psycopg2, our own packages, ...), so the
shares say which layer does the work. Reported per process: ms holding the interpreter per
booking, and the share of each layer. A centralised run (the same legs at B's own stations)
follows for comparison unless ``--federated-only``.

Needs py-spy (``pip install py-spy``) and permission to trace (root, or ptrace allowed).
Run: python bench/booking_profile.py [--seconds 20] [--rate 200]. Last line: JSON summary.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

# the booking bench's servers and legs (loaded by path: ``booking`` is also the domain's package)
_spec = importlib.util.spec_from_file_location(
    "booking_bench", Path(__file__).with_name("booking.py")
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# a frame's file → the layer it belongs to; the first match from the innermost frame wins
LAYERS = [
    ("waitress", "waitress"),
    ("connexion", "connexion"),
    ("starlette", "starlette"),
    ("jsonschema", "jsonschema"),
    ("referencing", "jsonschema"),
    ("rpds", "jsonschema"),
    ("urllib3", "peer client: urllib3"),
    ("httpx", "httpx/httpcore/h11"),
    ("httpcore", "httpx/httpcore/h11"),
    ("h11", "httpx/httpcore/h11"),
    ("anyio", "asyncio/anyio"),
    ("asyncio", "asyncio/anyio"),
    ("peewee", "peewee"),
    ("playhouse", "peewee"),
    ("psycopg2", "psycopg2"),
    ("werkzeug", "werkzeug"),
    ("json", "json"),
    ("storage", "recarga: storage"),
    ("service", "recarga: service"),
    ("booking", "recarga: booking core"),
    ("handlers", "recarga: handlers"),
    ("federation", "recarga: peer client"),
    ("recarga", "recarga: app, middleware, bridge"),
]
# frames that say nothing about the layer (the standard library's generic plumbing)
PLUMBING = re.compile(
    r"\((threading|queue|socket|selectors|contextlib|typing|functools|"
    r"inspect|enum|abc|dataclasses|copy|re|_weakrefset|logging/__init__|"
    r"datetime|uuid|collections/__init__|email/.*|http/.*|urllib/.*)\.py:"
)


def layer(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        if PLUMBING.search(frame):
            continue
        m = re.search(r"\(([^():]+)\.py:\d+\)", frame) or re.search(r"\(([^():]+):\d+\)", frame)
        path = m.group(1) if m else frame
        top = path.split("/")[0]
        for prefix, name in LAYERS:
            if top == prefix or path.startswith(prefix + "/"):
                return name
        return "other: " + top
    return "other"


def profile(pid: int, seconds: float, rate: int, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--gil",
            "--nonblocking",
            "-r",
            str(rate),
            "-d",
            str(int(seconds)),
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def read(out: Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit():
            counts[layer(stack)] += int(n)
    return counts


def measure(servers, stations, seconds: float, rate: int, tmp: Path, label: str) -> dict:
    slot = itertools.count(10_000 if label == "federated" else 50_000)
    t0 = bench.first_window()
    done = []
    stop = threading.Event()

    def client():
        with httpx.Client(timeout=60, headers=servers["b"].admin) as http:
            while not stop.is_set():
                n = next(slot)
                r = http.post(
                    f"{servers['b'].api}/bookings",
                    json={"car_id": f"profile-{n}", "legs": bench.legs_for(stations, t0, n)},
                )
                if r.status_code == 201:
                    done.append(n)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(1.0)  # connections up, caches warm
    first = len(done)
    spies = {
        c: profile(s.proc.pid, seconds, rate, tmp / f"{label}-{c}.txt") for c, s in servers.items()
    }
    for spy in spies.values():
        spy.wait()
    bookings = len(done) - first
    stop.set()
    thread.join()
    result = {"bookings": bookings, "processes": {}}
    for c, spy in spies.items():
        if spy.returncode:
            raise SystemExit(f"py-spy failed on {c}: {spy.stderr.read().decode()[-500:]}")
        counts = read(tmp / f"{label}-{c}.txt")
        total = sum(counts.values())
        result["processes"][c] = {
            "gil_ms_per_booking": round(total / rate / max(bookings, 1) * 1000, 2),
            "shares": {
                k: round(v / total, 3) for k, v in counts.most_common() if v / total >= 0.01
            },
        }
    return result


def py_spy() -> str | None:
    """py-spy's executable: beside this Python's, or on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def may_trace() -> str | None:
    """Why py-spy could not trace the servers, before any is started (None: it can)."""
    if py_spy() is None:
        return "py-spy is not installed: pip install py-spy"
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    try:
        level = int(scope.read_text())
    except (OSError, ValueError):
        return None  # no Yama: the usual rules (same user) apply
    if level >= 1 and os.geteuid() != 0:
        return (
            f"py-spy cannot trace the servers (kernel.yama.ptrace_scope is {level}): run as "
            "root, or allow it with: sysctl kernel.yama.ptrace_scope=0"
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--federated-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 s per mode at 100 Hz")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rate = 3, 100
    why = may_trace()
    if why:
        raise SystemExit(why)
    tmp = Path(tempfile.mkdtemp(prefix="recarga-profile-"))
    servers, urls = bench.start(tmp)
    summary = {}
    try:
        federated = [bench.station(servers[c], p) for c, p in bench.PLACES.items()]
        central = [bench.station(servers["b"], p) for p in bench.PLACES.values()]
        modes = [("federated", federated)] + (
            [] if args.federated_only else [("centralised", central)]
        )
        for label, stations in modes:
            summary[label] = measure(servers, stations, args.seconds, args.rate, tmp, label)
            print(f"{label}: {summary[label]['bookings']} bookings", flush=True)
            for c, p in summary[label]["processes"].items():
                shares = ", ".join(f"{k} {v:.0%}" for k, v in p["shares"].items())
                print(
                    f"  {c}: {p['gil_ms_per_booking']} ms holding the interpreter per booking: {shares}"
                )
    finally:
        bench.stop(servers, urls)
    print(
        json.dumps(
            {"bench": "booking_profile", "seconds": args.seconds, "rate": args.rate, **summary}
        )
    )


if __name__ == "__main__":
    main()
