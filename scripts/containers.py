"""``make containers``: the federation in real containers, driven and checked from outside.

    python scripts/containers.py            docker-compose.yml: three companies, one broker
    python scripts/containers.py --hosts    docker/hosts/: one compose project per computer, each
                                            on its own network; they meet only through published
                                            ports, as separate computers would (docs/deploy.md)

Builds the image, brings the federation up and waits for health; from outside the containers
(the published ports) books João Pessoa → Feira de Santana at company A with legs at A, B and C;
runs the simulator container to completion (0 stranded); cuts company C off the network and
freezes it (``docker pause``) while bookings involving it are in flight, then brings it back;
stops a server in the middle of a booking and starts it again; checks every company's database
(no overlap, every booking all or nothing, nothing left held after recovery); kills one of
company A's two processes behind its load balancer with bookings in flight (every answer
within the prepare timeout + 1 s + fail-over, none 500, 503s with Retry-After); checks that
``docker stop`` of each server process takes < 3 s and exits 0; then removes everything
(``down -v``). Prints PASS/FAIL lines and exits 1 on any failure. Needs Docker Engine and
Compose v2; nothing else but this repository's virtual environment (httpx).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ROOT / "docker" / "hosts"
BR101 = {
    "a": ["goiana", "recife", "palmares"],
    "b": ["maceio", "sao-miguel-dos-campos", "propria"],
    "c": ["aracaju", "estancia", "esplanada", "alagoinhas"],
}
STOP_LIMIT = 3.0
PREPARE_TIMEOUT = 5.0  # RECARGA_PREPARE_TIMEOUT in docker-compose.yml and docker/hosts/
FAILOVER = 2.0  # the balancer's connect timeout (docker/haproxy/haproxy.cfg): one retry
failures: list[str] = []
QUIET = {"ps", "exec", "inspect"}  # read-only commands are not echoed


def check(ok: bool, what: str, detail: str = "") -> bool:
    print(f"{'PASS' if ok else 'FAIL'} {what}" + (f" — {detail}" if detail else ""), flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(
    *cmd: str, check_rc: bool = True, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    if not QUIET.intersection(cmd[:4]):
        print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check_rc and out.returncode != 0:
        raise SystemExit(f"FAIL {' '.join(cmd[:4])}…: {out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out


def published_host() -> str:
    """Where published ports answer: ``RECARGA_DOCKER_ADDRESS``, else the engine's host when
    DOCKER_HOST is tcp://, else this machine."""
    if os.environ.get("RECARGA_DOCKER_ADDRESS"):
        return os.environ["RECARGA_DOCKER_ADDRESS"]
    url = os.environ.get("DOCKER_HOST", "")
    return (urlparse(url).hostname or "127.0.0.1") if url.startswith("tcp://") else "127.0.0.1"


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as a POSIX shell (``set -a; . file``) reads them."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = " ".join(shlex.split(value))
    return out


class Stack:
    """One way to run the federation: the commands of docs/deploy.md or of docker-compose.yml."""

    companies = "abc"

    def __init__(self, hosts: bool, address: str):
        self.hosts = hosts
        self.host = address
        if hosts:
            self.envs = {c: read_env(HOSTS / f"company-{c}.env") for c in self.companies}
            self.ports = {c: int(self.envs[c]["RECARGA_PORT"]) for c in self.companies}
            self.admin = {c: self.envs[c]["RECARGA_ADMIN_TOKEN"] for c in self.companies}
        else:
            self.ports = {"a": 8081, "b": 8082, "c": 8083}
            self.admin = {c: f"admin-{c}-dev" for c in self.companies}

    # -- the commands (the runbook's) ---------------------------------------------------------

    def compose(self, company: str | None) -> list[str]:
        """``docker compose`` for one company's project (hosts) or the whole federation."""
        if not self.hosts:
            return ["docker", "compose", "-p", "recarga", "-f", "docker-compose.yml"]
        if company is None:
            return [
                "docker",
                "compose",
                "-p",
                "recarga-broker",
                "--env-file",
                "docker/hosts/broker.env",
                "-f",
                "docker/hosts/broker.yml",
            ]
        return [
            "docker",
            "compose",
            "-p",
            f"recarga-{company}",
            "--env-file",
            f"docker/hosts/company-{company}.env",
            "-f",
            "docker/hosts/company.yml",
            "-f",
            "docker/hosts/one-machine.yml",
        ]

    def server_service(self, company: str) -> str:
        """The service peers and people reach: the server, or company A's load balancer."""
        return "server" if self.hosts else f"company-{company}"

    def processes(self, company: str) -> list[str]:
        """The server processes' services (company A runs two behind its load balancer)."""
        if not self.hosts and company == "a":
            return ["company-a-1", "company-a-2"]
        return [self.server_service(company)]

    def db_service(self, company: str) -> str:
        return "db" if self.hosts else f"pg-{company}"

    def build(self) -> None:
        run("docker", "build", "-f", "docker/Dockerfile", "-t", "recarga:latest", ".")
        if not self.hosts:
            run(
                "docker", "build", "-f", "docker/haproxy/Dockerfile", "-t", "recarga-lb:latest", "."
            )

    def up(self) -> None:
        if self.hosts:
            run(*self.compose(None), "up", "-d")
            for c in self.companies:
                run(*self.compose(c), "up", "-d")
        else:
            run(*self.compose(None), "up", "-d", "mosquitto", "company-a", "company-b", "company-c")

    def down(self) -> None:
        for c in self.companies if self.hosts else "":
            run(*self.compose(c), "down", "-v", "--remove-orphans", check_rc=False)
        run(*self.compose(None), "down", "-v", "--remove-orphans", check_rc=False)

    def container(self, company: str, service: str | None = None) -> str:
        out = run(
            *self.compose(company if self.hosts else None),
            "ps",
            "-aq",
            service or self.server_service(company),
        )
        return out.stdout.strip().splitlines()[0]

    def network(self, company: str) -> str:
        return f"recarga-{company}_default" if self.hosts else "recarga_default"

    def aliases(self, company: str) -> list[str]:
        """The names the server answers to on its network (restored when reconnected)."""
        return [self.server_service(company)]

    def psql(self, company: str, sql: str) -> list[list[str]]:
        out = run(
            *self.compose(company if self.hosts else None),
            "exec",
            "-T",
            self.db_service(company),
            "psql",
            "-U",
            "recarga",
            "-d",
            "recarga",
            "-AtF",
            "\t",
            "-c",
            sql,
        )
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def device(self, *args: str, entrypoint: str | None = None) -> subprocess.CompletedProcess:
        """The image as a device on another computer: the federation's CA at /ca/ca.crt, the
        simulated devices' secrets at /devices (docs/deploy.md, running the simulator)."""
        if self.hosts:
            names = {
                c: urlparse(self.envs[c]["RECARGA_PUBLIC_URL"]).hostname for c in self.companies
            }
            adds = [a for c in self.companies for a in ("--add-host", f"{names[c]}:host-gateway")]
            return run(
                "docker",
                "run",
                "--rm",
                *adds,
                "-e",
                f"RECARGA_DEMO_CLOCK={os.environ.get('RECARGA_DEMO_CLOCK', '')}",
                "-v",
                f"{HOSTS / 'broker-ca'}:/ca:ro",
                "-v",
                "recarga-broker_devices:/devices:ro",
                *(["--entrypoint", entrypoint] if entrypoint else []),
                "recarga:latest",
                *args,
                check_rc=False,
            )
        return run(
            *self.compose(None),
            "run",
            "--rm",
            "--no-deps",
            *(["--entrypoint", entrypoint] if entrypoint else []),
            "simulator",
            *args,
            check_rc=False,
        )

    def broker_url(self) -> str:
        host = urlparse(self.envs["a"]["RECARGA_MQTT_URL"]).hostname if self.hosts else "mosquitto"
        return f"mqtts://{host}:8883?cafile=/ca/ca.crt"

    def simulate(self) -> subprocess.CompletedProcess:
        if self.hosts:
            return self.device(
                "simulate",
                "--url",
                self.broker_url(),
                "--credentials",
                "/devices/devices.json",
                "--companies",
                ",".join(f"{c}={self.envs[c]['RECARGA_PUBLIC_URL']}" for c in self.companies),
                "--cars",
                "20",
            )
        return run(*self.compose(None), "run", "--rm", "simulator", check_rc=False)

    # -- from outside --------------------------------------------------------------------------

    def api(self, company: str) -> str:
        return f"http://{self.host}:{self.ports[company]}/api/v1"

    def auth(self, company: str) -> dict:
        return {"Authorization": f"Bearer {self.admin[company]}"}


def wait_healthy(stack: Stack, timeout: float = 240) -> bool:
    deadline = time.monotonic() + timeout
    pending = set(stack.companies)
    while pending and time.monotonic() < deadline:
        for c in sorted(pending):
            state = run(
                "docker",
                "inspect",
                "-f",
                "{{.State.Health.Status}}",
                stack.container(c),
                check_rc=False,
            ).stdout.strip()
            if state == "healthy":
                pending.discard(c)
        time.sleep(2)
    return check(not pending, "every server healthy", f"waiting for {sorted(pending)}")


def wait_federated(stack: Stack, http: httpx.Client, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ok = all(
                len(
                    items := http.get(f"{stack.api(c)}/peers", headers=stack.auth(c)).json()[
                        "items"
                    ]
                )
                == 2
                and all(p["reachable"] for p in items)
                and http.get(f"{stack.api(c)}/health").json()["mqtt"] == "connected"
                for c in stack.companies
            )
        except (httpx.HTTPError, KeyError, ValueError):
            ok = False
        if ok:
            return check(True, "every company reaches its two peers and the broker")
        time.sleep(2)
    return check(False, "every company reaches its two peers and the broker")


LOGIN = """
import json, sys
from mqtt.rpc import CarLink, NoResponse
url, devices = sys.argv[1], json.load(open("/devices/devices.json"))
def login(user, secret):
    link = CarLink(url, "a", user, username=user, password=secret, clean=True)
    try:
        link.wait_connected(5)
        return "accepted"
    except NoResponse as exc:
        return "refused" if "refused" in str(exc) else "no connection"
    finally:
        link.close()
# each argument: user=secret, or user=@device for that device's secret in devices.json
tries = [arg.split("=", 1) for arg in sys.argv[2:]]
print(json.dumps([login(u, devices[s[1:]] if s.startswith("@") else s) for u, s in tries]))
"""


def logins(stack: Stack, url: str, *tries: str) -> list[str]:
    """Log in from another computer (a container with the CA and the devices' secrets)."""
    out = stack.device("-c", LOGIN, url, *tries, entrypoint="python")
    return next(
        (json.loads(line) for line in reversed(out.stdout.splitlines()) if line.startswith("[")),
        [out.stderr[-300:]],
    )


def broker_identity(stack: Stack) -> None:
    """From another computer: over TLS (the broker verified with the federation's CA) a car
    logs in with its own secret and not with another car's; nothing answers in clear; a car's
    credential issued on the running broker (docs/deploy.md's command) works until revoked."""
    result = logins(stack, stack.broker_url(), "car-001=@car-001", "car-001=@car-000")
    check(
        result == ["accepted", "refused"],
        "over TLS, car-001 logs in with its own secret, never with car-000's",
        str(result),
    )
    in_clear = stack.broker_url().replace("mqtts://", "mqtt://").split("?")[0]
    result = logins(stack, in_clear, "car-001=@car-001")
    check(
        result == ["no connection"], "no MQTT in clear: a plain client gets no session", str(result)
    )
    admin = (
        "admin-dev" if not stack.hosts else read_env(HOSTS / "broker.env")["MQTT_PASSWORD_ADMIN"]
    )
    broker = stack.compose(None)
    accounts = [
        *broker,
        "run",
        "--rm",
        "--no-deps",
        "--entrypoint",
        "python",
        "mqtt-init",
        "-m",
        "recarga.cli",
        "accounts",
    ]
    url = f"mqtts://admin:{admin}@mosquitto:8883?cafile=/ca/ca.crt"
    issued = run(*accounts, "add", "car", "car-555", "--broker", url, check_rc=False)
    words = issued.stdout.split()
    secret = words[-1] if len(words) >= 2 and words[-2] == "car-555" else ""
    before = logins(stack, stack.broker_url(), f"car-555={secret}") if secret else []
    revoked = run(*accounts, "revoke", "car-555", "--broker", url, check_rc=False)
    after = logins(stack, stack.broker_url(), f"car-555={secret}") if secret else []
    check(
        before == ["accepted"] and revoked.returncode == 0 and after == ["refused"],
        "a car's credential issued on the running broker logs in, and once revoked does not",
        f"{before} then {after}; {issued.stderr[-200:]}{revoked.stderr[-200:]}",
    )


def console(stack: Stack, http: httpx.Client) -> None:
    """Each company's console is served from the image, and its map lists the federation."""
    for c in stack.companies:
        page = http.get(f"{stack.api(c).removesuffix('/api/v1')}/console/")
        library = http.get(f"{stack.api(c).removesuffix('/api/v1')}/console/vendor/echarts.min.js")
        stations = http.get(f"{stack.api(c)}/monitor/stations", headers=stack.auth(c))
        check(
            page.status_code == 200
            and "Recarga" in page.text
            and library.status_code == 200
            and stations.status_code == 200,
            f"company {c}: console served, its map lists "
            f"{len(stations.json().get('stations', [])) if stations.status_code == 200 else '?'}"
            f" stations",
            f"{page.status_code} {library.status_code} {stations.status_code}",
        )


def corridor(stack: Stack, http: httpx.Client) -> dict[str, list[dict]]:
    """Stations along BR-101 at each company, so the trip has a leg at A, B and C."""
    made: dict[str, list[dict]] = {}
    for c, places in BR101.items():
        for place in places:
            r = http.post(
                f"{stack.api(c)}/stations",
                headers=stack.auth(c),
                json={
                    "place_id": place,
                    "name": f"BR-101 {place}",
                    "connectors": [{"power_kw": 150, "price_per_kwh": 2.0}] * 2,
                },
            )
            if r.status_code == 201:
                made.setdefault(c, []).append(r.json())
    return made


def the_trip(stack: Stack, http: httpx.Client) -> str | None:
    driver = http.post(
        f"{stack.api('a')}/drivers", headers=stack.auth("a"), json={"name": "containers check"}
    ).json()
    auth = {"Authorization": f"Bearer {driver['token']}"}
    departure = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    plan = http.post(
        f"{stack.api('a')}/plans",
        headers=auth,
        json={
            "origin": "joao-pessoa",
            "destination": "feira-de-santana",
            "departure": departure.isoformat().replace("+00:00", "Z"),
            "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
            "options": 3,
        },
    ).json()
    option = next(
        (o for o in plan.get("options", []) if {s["company"] for s in o["stops"]} >= set("abc")),
        None,
    )
    if not check(
        option is not None,
        "plan João Pessoa → Feira de Santana at A has stops at A, B and C",
        str(plan)[:300],
    ):
        return None
    legs, seen = [], set()
    for leg in option["legs"]:
        if leg["company"] not in seen:
            seen.add(leg["company"])
            legs.append(leg)
    r = http.post(
        f"{stack.api('a')}/bookings", headers=auth, json={"car_id": "container-car", "legs": legs}
    )
    if not check(
        r.status_code == 201, "booking at A with one leg at each of A, B and C", r.text[:300]
    ):
        return None
    booking = r.json()["booking_id"]
    for leg in legs:
        # the answer leaves when the decision is logged; each company's commit follows within
        # moments (docs/protocol.md): give it a few seconds, then check
        deadline = time.monotonic() + 10
        while True:
            rows = stack.psql(
                leg["company"],
                f"SELECT connector_id, state FROM reservation WHERE booking_id = '{booking}'",
            )
            if rows == [[leg["connector_id"], "confirmed"]] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(
            rows == [[leg["connector_id"], "confirmed"]],
            f"company {leg['company']}'s database holds its leg, confirmed",
            str(rows),
        )
    return booking


def bookings_in_flight(
    stack: Stack,
    stations: dict[str, list[dict]],
    n: int,
    base: int,
    results: list,
    stagger: float = 0.0,
) -> list[threading.Thread]:
    """``n`` three-company bookings at A and B, each in its own thread, the i-th sent
    ``i * stagger`` seconds after the first."""
    t0 = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    def iso(minutes: float) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    def one(i: int) -> None:
        legs = []
        for k, c in enumerate("abc"):
            s = stations[c][i % len(stations[c])]
            start = base + 90 * i + 300 * k
            legs.append(
                {
                    "company": c,
                    "station_id": s["id"],
                    "connector_id": s["connectors"][i % 2]["id"],
                    "start": iso(start),
                    "end": iso(start + 30),
                }
            )
        at = "ab"[i % 2]
        time.sleep(i * stagger)
        try:
            with httpx.Client(timeout=60) as http:
                r = http.post(
                    f"{stack.api(at)}/bookings",
                    headers=stack.auth(at),
                    json={"car_id": f"fault-car-{base}-{i}", "legs": legs},
                )
            results.append(r.status_code)
            if r.status_code >= 400:
                print(
                    f"  booking {base}-{i} at {at}: {r.status_code} "
                    f"{r.json().get('detail', '')[:160]}",
                    flush=True,
                )
        except httpx.HTTPError as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def network_fault(stack: Stack, stations: dict[str, list[dict]]) -> None:
    c = stack.container("c")
    results: list = []
    threads = bookings_in_flight(stack, stations, 6, 0, results, stagger=0.15)
    time.sleep(0.3)  # the first bookings are under way, the last ones come after the cut
    run("docker", "network", "disconnect", stack.network("c"), c)
    for t in threads:
        t.join(60)
    run(
        "docker",
        "network",
        "connect",
        *[a for x in stack.aliases("c") for a in ("--alias", x)],
        stack.network("c"),
        c,
    )
    check(
        all(r in (201, 409, 503) for r in results) and 503 in results,
        "bookings while C is cut off: each answered (503 once C is unreachable)",
        str(results),
    )

    results = []
    run("docker", "pause", c)
    threads = bookings_in_flight(stack, stations, 4, 3000, results)
    for t in threads:
        t.join(60)
    run("docker", "unpause", c)
    check(
        all(r in (409, 503) for r in results),
        "bookings while C is frozen: each refused or 503, none confirmed",
        str(results),
    )


def stop_during_booking(stack: Stack, stations: dict[str, list[dict]]) -> None:
    """Bookings coordinated by A wait on a frozen C when A is stopped: A must still stop
    within the bound, and after its restart each booking is all or nothing (checked later)."""
    results: list = []
    run("docker", "pause", stack.container("c"))
    threads = [t for t in bookings_in_flight(stack, stations, 4, 6000, results)]
    time.sleep(1.0)  # A's prepares at C are now waiting
    service = stack.processes("a")[0]
    took, code = stop(stack, "a", service)
    run("docker", "unpause", stack.container("c"))
    for t in threads:
        t.join(60)
    check(
        took < STOP_LIMIT and code == "0",
        f"docker stop of {service} while it coordinates bookings in flight: < 3 s, exit 0",
        f"{took:.1f} s, exit {code}; answers {results}",
    )
    run(*stack.compose("a" if stack.hosts else None), "start", service)


def process_killed(stack: Stack, stations: dict[str, list[dict]]) -> None:
    """Company A as two processes behind its load balancer: one is killed (``docker kill``,
    SIGKILL) with bookings in flight through the balancer — C frozen, so they are waiting on
    its prepares — then more bookings arrive while it is down. Every answer within the prepare
    timeout + 1 s + the balancer's fail-over, none 500, every 503 with Retry-After (the
    balancer answers one for a request its process died under); all or nothing, and nothing
    left held, are checked at the end with every other booking."""
    victim = stack.processes("a")[1]
    t0 = (datetime.now(UTC) + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    bound = PREPARE_TIMEOUT + 1 + FAILOVER

    def burst(first: int, n: int, during=None) -> list[tuple[object, float, str | None]]:
        answers: list[tuple[object, float, str | None]] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            legs = []
            for k, c in enumerate("abc"):
                s = stations[c][i % len(stations[c])]
                start = t0 + timedelta(minutes=90 * i + 300 * k)
                legs.append(
                    {
                        "company": c,
                        "station_id": s["id"],
                        "connector_id": s["connectors"][i % 2]["id"],
                        "start": start.isoformat().replace("+00:00", "Z"),
                        "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                    }
                )
            began = time.monotonic()
            try:
                with httpx.Client(timeout=60) as http:
                    r = http.post(
                        f"{stack.api('a')}/bookings",
                        headers=stack.auth("a"),
                        json={"car_id": f"replica-car-{i}", "legs": legs},
                    )
                outcome: object = r.status_code
                retry = r.headers.get("retry-after")
            except httpx.HTTPError as exc:
                outcome, retry = type(exc).__name__, None
            with lock:
                answers.append((outcome, time.monotonic() - began, retry))

        threads = [threading.Thread(target=one, args=(first + i,)) for i in range(n)]
        for t in threads:
            t.start()
        if during is not None:
            during()
        for t in threads:
            t.join(90)
        return answers

    def kill_victim() -> None:
        time.sleep(1.5)  # every booking is under way, waiting on C's prepares
        run("docker", "kill", stack.container("a", victim))

    run("docker", "pause", stack.container("c"))
    try:
        frozen = burst(0, 8, kill_victim)
    finally:
        run("docker", "unpause", stack.container("c"))
    down = burst(100, 8)  # the victim still down: the balancer sends them to the other
    for label, answers, wanted in (
        ("in flight when it was killed (C frozen)", frozen, {503}),
        ("sent while it was down", down, {201}),
    ):
        statuses = [a[0] for a in answers]
        slowest = max((a[1] for a in answers), default=0.0)
        check(
            len(answers) == 8 and set(statuses) <= wanted,
            f"{victim} killed: bookings {label} answered {sorted(wanted)}",
            str(statuses),
        )
        check(
            all(a[2] for a in answers if a[0] == 503),
            f"{victim} killed: every 503 {label} carries Retry-After",
            str([a for a in answers if a[0] == 503 and not a[2]]),
        )
        check(
            slowest <= bound,
            f"{victim} killed: every booking {label} answered within {bound:.0f} s",
            f"slowest {slowest:.1f} s",
        )
    run(*stack.compose(None), "start", victim)


def stop(stack: Stack, company: str, service: str | None = None) -> tuple[float, str]:
    container = stack.container(company, service)
    began = time.monotonic()
    run("docker", "stop", container)
    took = time.monotonic() - began
    code = run("docker", "inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
    return took, code


def all_or_nothing(stack: Stack, timeout: float = 120) -> None:
    """Every company's database against every coordinator's log, once nothing is in flight."""
    deadline = time.monotonic() + timeout
    while True:
        open_txs = sum(
            int(
                stack.psql(
                    c,
                    "SELECT count(*) FROM coordinator_tx WHERE open "
                    "AND state IN ('preparing', 'committed', 'aborted', "
                    "'cancelled')",
                )[0][0]
            )
            for c in stack.companies
        )
        held = sum(
            int(
                stack.psql(
                    c,
                    "SELECT count(*) FROM reservation r JOIN participant_tx p "
                    "ON p.tx_id = r.tx_id WHERE r.state = 'held' "
                    "AND p.state <> 'prepared'",
                )[0][0]
            )
            for c in stack.companies
        )
        if (open_txs == 0 and held == 0) or time.monotonic() > deadline:
            break
        time.sleep(3)
    check(open_txs == 0, "every decision delivered (no open transaction left)", str(open_txs))
    check(held == 0, "no held row whose transaction is decided", str(held))
    rows = {
        c: stack.psql(c, "SELECT booking_id, connector_id, state FROM reservation")
        for c in stack.companies
    }
    for c in stack.companies:
        overlaps = stack.psql(
            c,
            """SELECT count(*) FROM reservation a JOIN reservation b
            ON a.connector_id = b.connector_id AND a.id < b.id
            WHERE a.state IN ('held','confirmed','charging') AND b.state IN ('held','confirmed','charging')
              AND a.start_at < b.end_at AND b.start_at < a.end_at""",
        )[0][0]
        check(overlaps == "0", f"company {c}: no overlapping active reservations", overlaps)
    broken: list[str] = []
    checked = 0
    for c in stack.companies:
        for booking, state, legs in stack.psql(
            c, "SELECT booking_id, state, legs FROM coordinator_tx"
        ):
            if state not in ("committed", "aborted"):
                continue
            checked += 1
            for leg in json.loads(legs):
                there = {
                    s
                    for b, conn, s in rows[leg["company"]]
                    if b == booking and conn == leg["connector_id"]
                }
                if state == "committed" and not there & {
                    "confirmed",
                    "charging",
                    "completed",
                    "no_show",
                }:
                    broken.append(
                        f"{booking} committed, leg {leg['leg_index']} at "
                        f"{leg['company']}: {sorted(there)}"
                    )
                if state == "aborted" and there & {"held", "confirmed", "charging"}:
                    broken.append(
                        f"{booking} aborted, leg {leg['leg_index']} at "
                        f"{leg['company']}: {sorted(there)}"
                    )
    check(
        not broken,
        f"every booking all or nothing across companies ({checked} checked)",
        "; ".join(broken[:5]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--hosts", action="store_true", help="docker/hosts/: one compose project per computer"
    )
    parser.add_argument("--keep", action="store_true", help="leave the federation running")
    parser.add_argument(
        "--address",
        default=published_host(),
        help="where the engine's published ports answer (default: "
        "$RECARGA_DOCKER_ADDRESS, the host of a tcp:// DOCKER_HOST, or "
        "127.0.0.1)",
    )
    args = parser.parse_args(argv)
    # the servers and the simulator share a demo clock (booking.clock): the world a week
    # behind, 1,000 times faster, so the simulated trips (run last, minutes from now) take
    # about a minute, inside their windows as every server sees them
    os.environ.setdefault("RECARGA_DEMO_CLOCK", f"{time.time():.3f}@1000-{7 * 86_400}")
    if run("docker", "compose", "version", check_rc=False).returncode != 0:
        print("FAIL docker compose v2 is needed (and a running Docker Engine)")
        return 1
    stack = Stack(args.hosts, args.address)
    began = time.monotonic()
    stack.down()
    try:
        stack.build()
        stack.up()
        http = httpx.Client(timeout=60)
        if wait_healthy(stack) and wait_federated(stack, http):
            console(stack, http)
            broker_identity(stack)
            stations = corridor(stack, http)
            the_trip(stack, http)
            network_fault(stack, stations)
            stop_during_booking(stack, stations)
            if not stack.hosts:
                process_killed(stack, stations)
            wait_healthy(stack)
            # last: its stations leave with it, and a station that leaves is offline
            sim = stack.simulate()
            summary = next(
                (
                    json.loads(line)
                    for line in reversed(sim.stdout.splitlines())
                    if line.startswith("{")
                ),
                {},
            )
            check(
                sim.returncode == 0
                and summary.get("stranded") == 0
                and summary.get("trips_completed", 0) > 0,
                "simulator container ran to completion, 0 stranded",
                f"{summary.get('trips_completed')} trips, {summary.get('stranded')} stranded",
            )
            all_or_nothing(stack)
            for c in stack.companies:
                for service in stack.processes(c):
                    took, code = stop(stack, c, service)
                    check(
                        took < STOP_LIMIT and code == "0",
                        f"docker stop of {service}: < 3 s, exit 0",
                        f"{took:.1f} s, exit {code}",
                    )
    finally:
        if not args.keep:
            stack.down()
    print(
        f"{'FAIL' if failures else 'PASS'} containers{' --hosts' if args.hosts else ''}: "
        f"{len(failures)} failure(s) in {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
