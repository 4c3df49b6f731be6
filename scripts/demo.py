"""The local demo: three companies on SQLite files, one Mosquitto, simulated cars doing trips.

Starts Mosquitto from the local binary on a free port, three company servers (each its own
SQLite file, seeded with stations, peers of each other by ``RECARGA_PEERS``), then the
simulator with ``--cars`` cars (default 30) doing full trips across companies over MQTT, prints
its summary and stops everything. ``--keep`` leaves the federation running afterwards (Ctrl-C
stops it) to explore it in Swagger UI, Postman, Insomnia or ``recarga drive``, and prints the
commands ready to paste. Everything is written under demo-run/: logs, databases, the Postman and
Insomnia environments, and ``broker.url`` (the broker's address, which ``recarga drive`` reads
when no ``--url`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "demo-run"
sys.path.insert(0, str(ROOT / "scripts"))
from insomnia import environments  # noqa: E402  (a sibling script)

COMPANIES = ("a", "b", "c")
REGISTRATION = "demo-federation-secret"


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: each socket stays bound until all are chosen (bound one
    after another and closed, two could get the same port, and a company would not start)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def start_broker(port: int) -> subprocess.Popen:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("mosquitto is not installed: run 'make services' or install Debian's mosquitto")
    conf = RUN_DIR / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=open(RUN_DIR / "mosquitto.log", "w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return proc
        except OSError:
            time.sleep(0.1)
    sys.exit("mosquitto did not start; see demo-run/mosquitto.log")


def wait_ready(base: str, proc: subprocess.Popen, company: str, peers: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        try:
            health = httpx.get(f"{base}/health", timeout=2).json()
            registered = httpx.get(
                f"{base}/peers",
                timeout=5,
                headers={"Authorization": f"Bearer demo-admin-{company}"},
            ).json()["items"]
            if health["mqtt"] == "connected" and len(registered) >= peers:
                return health
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit(f"company {company} did not get ready; see demo-run/company-{company}.log")
        time.sleep(0.3)


def write_environments(urls: dict[str, str]) -> None:
    """Ready-to-import environments for this federation (Postman/newman and Insomnia)."""
    import json

    postman_env, insomnia_env = environments(
        "make demo",
        {c: f"{u}/api/v1" for c, u in urls.items()},
        {c: f"demo-admin-{c}" for c in urls},
        REGISTRATION,
    )
    (RUN_DIR / "postman_environment.json").write_text(json.dumps(postman_env, indent=2))
    (RUN_DIR / "insomnia-environment.json").write_text(json.dumps(insomnia_env, indent=2))


def write_shell_env(urls: dict[str, str], broker_port: int) -> None:
    """demo-run/demo.env, for a shell (``. demo-run/demo.env``): each company's API address and
    admin token, and the broker, as docs/api.md's curl example reads them."""
    lines = [
        f"API_{c.upper()}={u}/api/v1\nADMIN_TOKEN_{c.upper()}=demo-admin-{c}"
        for c, u in urls.items()
    ]
    (RUN_DIR / "demo.env").write_text(
        "# the running demo (make demo DEMO_ARGS=--keep); . demo-run/demo.env\n"
        + "\n".join(lines)
        + f"\nMQTT_URL=mqtt://127.0.0.1:{broker_port}\n"
    )


def kept_commands() -> list[str]:
    """What README tells people to run against the kept demo, exactly (tests/e2e/test_docs.py
    runs README's copies of these lines)."""
    return [NEWMAN, DRIVE]


# the demo's world starts two days in the past (booking.clock): the trips take about 20 world
# hours from the first booking, and a slower machine books and steps more slowly in world
# time (a real second is 17 world minutes), so one day left some cars on the road at times
WORLD_BEHIND_S = 2 * 86_400

NEWMAN = (
    "make node && npx newman run insomnia/recarga.postman_collection.json "
    "-e demo-run/postman_environment.json --folder 'Demo flow'"
)
DRIVE = ".venv/bin/recarga drive --company b --car my-car --from joao-pessoa --to feira-de-santana"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cars", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the federation running after")
    parser.add_argument(
        "--speed",
        type=float,
        default=1000.0,
        help="how much faster the demo's world runs (booking.clock)",
    )
    args = parser.parse_args()
    # one world clock for the servers and the cars: it starts two days in the past and runs
    # --speed times faster until it is real time again, so the trips happen inside their
    # windows as every server sees them, and once they are over the world is the real one
    clock = f"{time.time():.3f}@{args.speed:g}-{WORLD_BEHIND_S}"

    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir()
    broker_port, *company_ports = free_ports(1 + len(COMPANIES))
    ports = dict(zip(COMPANIES, company_ports, strict=True))
    urls = {c: f"http://127.0.0.1:{p}" for c, p in ports.items()}
    procs: list[subprocess.Popen] = [start_broker(broker_port)]
    (RUN_DIR / "broker.url").write_text(f"mqtt://127.0.0.1:{broker_port}\n")
    recarga = [sys.executable, "-m", "recarga.cli"]
    try:
        for n, company in enumerate(COMPANIES):
            env = {
                **os.environ,
                "RECARGA_COMPANY": company,
                "RECARGA_PORT": str(ports[company]),
                "RECARGA_HOST": "127.0.0.1",
                "RECARGA_PUBLIC_URL": urls[company],
                "RECARGA_DATABASE_URL": f"sqlite:///{RUN_DIR / f'company-{company}.db'}",
                "RECARGA_ADMIN_TOKEN": f"demo-admin-{company}",
                "RECARGA_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
                "RECARGA_REGISTRATION_TOKEN": REGISTRATION,
                "RECARGA_PEERS": ",".join(u for c, u in urls.items() if c != company),
                "RECARGA_THREADS": "32",
                "PYTHONWARNINGS": "ignore::DeprecationWarning",
                "RECARGA_DEMO_CLOCK": clock,
            }
            # every place gets a station at one company at least: each demo car is given a
            # trip its range can make (carsim), so every trip can be planned
            subprocess.run(
                [
                    *recarga,
                    "seed",
                    "--seed",
                    str(args.seed + n),
                    "--share",
                    "0.6",
                    "--cover",
                    f"{n}/{len(COMPANIES)}",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            log = open(RUN_DIR / f"company-{company}.log", "w")
            procs.append(
                subprocess.Popen([*recarga, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        print(
            "The federation (these addresses answer while the demo runs; "
            "DEMO_ARGS=--keep keeps it running after the cars are done):"
        )
        for company, proc in zip(COMPANIES, procs[1:], strict=True):
            base = f"{urls[company]}/api/v1"
            wait_ready(base, proc, company, peers=len(COMPANIES) - 1)
            total = httpx.get(f"{base}/stations", params={"limit": 1}).json()["total"]
            driver = httpx.post(
                f"{base}/drivers",
                json={"name": "demo console"},
                headers={"Authorization": f"Bearer demo-admin-{company}"},
            )
            print(
                f"company {company}: {total} stations, API {base}, Swagger UI {base}/ui/, "
                f"admin token demo-admin-{company}\n"
                f"  console, operator: {urls[company]}/console/#admin=demo-admin-{company}\n"
                f"  console, driver:   {urls[company]}/console/#view=driver&driver="
                f"{driver.json()['token']}"
            )
        write_environments(urls)
        write_shell_env(urls, broker_port)
        print(f"broker: mqtt://127.0.0.1:{broker_port}; {args.cars} cars on their way…", flush=True)
        sim = subprocess.run(
            [
                sys.executable,
                "-m",
                "carsim",
                "--url",
                f"mqtt://127.0.0.1:{broker_port}",
                "--companies",
                ",".join(f"{c}={u}" for c, u in urls.items()),
                "--cars",
                str(args.cars),
                "--seed",
                str(args.seed),
                "--plot",
                str(RUN_DIR / "soc.png"),
                "--clock",
                clock,
            ],
            cwd=ROOT,
        )
        print(f"state-of-charge traces: {RUN_DIR / 'soc.png'}")
        if not args.keep:
            print(
                "The demo is over and its servers stop now, with the addresses above. To keep "
                "the federation running (console, API, Swagger UI, Postman, recarga drive):\n"
                "  make demo DEMO_ARGS=--keep"
            )
        if args.keep:
            print(
                "The federation keeps running; Ctrl-C stops it. In another terminal, from "
                "this folder:\n"
                + "\n".join(f"  {line}" for line in kept_commands())
                + "\n  Postman: import insomnia/recarga.postman_collection.json and "
                "demo-run/postman_environment.json, pick that environment, run the "
                "'Demo flow' folder\n"
                "  Insomnia: import insomnia/recarga.json, then "
                "demo-run/insomnia-environment.json; pick the environment 'make demo'",
                flush=True,
            )
            # sigwait takes a signal only while it is blocked; unblocked, SIGTERM killed this
            # script before it could stop the servers, and SIGINT was never taken at all
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)
            signal.sigwait(stop)
        return sim.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
