"""docs/deploy.md, followed with processes instead of containers: the same env files under
docker/hosts/, three servers on three ports, one broker configured as docker/mosquitto does
(TLS, one credential per device), and the seed's trip booked across the three companies."""

from __future__ import annotations

import importlib.util
import re
import time

import httpx
import pytest

from mqtt.rpc import CarLink
from tests.broker import Deployed
from tests.federation import BR101, at
from tests.support import ROOT, ServerProcess, create_pg_database, drop_pg_database, free_port

HOSTS = ROOT / "docker" / "hosts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


read_env = _script("containers").read_env  # the env files as make containers reads them


@pytest.fixture
def deployment(tmp_path):
    envs = {c: read_env(HOSTS / f"company-{c}.env") for c in "abc"}
    broker_env = read_env(HOSTS / "broker.env")
    # One machine stands for host-a/b/c.example: names to 127.0.0.1, published ports to free ones.
    ports = {envs[c]["RECARGA_PORT"]: str(free_port()) for c in "abc"}
    mqtt_port = free_port()

    # the broker, as docs/deploy.md starts it without containers: `recarga certs`, `recarga
    # accounts init` with broker.env's passwords, docker/mosquitto/mosquitto.conf
    broker = Deployed(tmp_path, passwords=broker_env, port=mqtt_port).start()
    devices = tmp_path / "devices.json"
    assert devices.stat().st_mode & 0o077 == 0  # the devices' secrets: owner only
    accounts = (tmp_path / "broker" / "dynamic-security.json").read_text()
    assert all(secret not in accounts for secret in broker.devices.values())  # hashed
    for key in ("ca.key", "broker.key"):
        assert (tmp_path / "broker" / key).stat().st_mode & 0o077 == 0

    def local(value: str) -> str:
        value = re.sub(r"host-[abc]\.example", "127.0.0.1", value)
        value = value.replace("127.0.0.1:8883", f"127.0.0.1:{mqtt_port}")
        value = value.replace("cafile=/ca/ca.crt", f"cafile={broker.ca}")  # "your copy of it"
        for old, new in ports.items():
            value = value.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
        return value

    dbs = {c: create_pg_database(f"recarga_deploy_{c}") for c in "abc"}
    servers = {}
    try:
        for c in "abc":
            env = {k: local(v) for k, v in envs[c].items()}
            env["RECARGA_DATABASE_URL"] = dbs[c]  # "point it at your database"
            env["RECARGA_HOST"] = "127.0.0.1"
            env["RECARGA_PORT"] = ports[env["RECARGA_PORT"]]
            servers[c] = ServerProcess(
                c,
                dbs[c],
                admin_token=env["RECARGA_ADMIN_TOKEN"],
                port=int(env["RECARGA_PORT"]),
                log_dir=tmp_path,
                **env,
            )
            servers[c].start()
        yield servers, broker, broker_env
    finally:
        for s in servers.values():
            s.stop()
        broker.kill()
        for url in dbs.values():
            drop_pg_database(url)


def test_the_runbook_with_processes_reproduces_the_seed_trip(deployment):
    servers, broker, broker_env = deployment
    # step: the federation registers itself from RECARGA_PEERS; check every peer is reachable
    deadline = time.monotonic() + 60
    for s in servers.values():
        while True:
            peers = httpx.get(f"{s.api}/peers", headers=s.admin, timeout=10).json()["items"]
            health = httpx.get(f"{s.api}/health").json()
            if (
                len(peers) == 2
                and all(p["reachable"] for p in peers)
                and health["mqtt"] == "connected"
            ):
                break
            assert time.monotonic() < deadline, (s.company, peers, health)
            time.sleep(0.5)
    for company, places in BR101.items():
        for place in places:
            r = httpx.post(
                f"{servers[company].api}/stations",
                headers=servers[company].admin,
                json={"place_id": place, "connectors": [{"power_kw": 150, "price_per_kwh": 2.0}]},
            )
            assert r.status_code == 201, r.text
    # the seed's trip, by a car over MQTT with its own broker account, at company B
    car = CarLink(broker.url("car-007"), "b", "car-007", client_id="car-007").wait_connected()
    try:
        plan = car.call(
            "plan",
            {
                "origin": "joao-pessoa",
                "destination": "feira-de-santana",
                "departure": at(0),
                "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
            },
        )
        assert plan["ok"], plan
        option = next(
            o for o in plan["body"]["options"] if {s["company"] for s in o["stops"]} >= set("abc")
        )
        legs, seen = [], set()
        for leg in option["legs"]:
            if leg["company"] not in seen:
                seen.add(leg["company"])
                legs.append(leg)
        booked = car.call("book", {"legs": legs})
        assert booked["status"] == 201, booked
        booking_id = booked["body"]["booking_id"]
    finally:
        car.close()
    import psycopg2

    def rows(company: str) -> list[tuple]:
        url = servers[company].env["RECARGA_DATABASE_URL"]
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT connector_id, state FROM reservation WHERE booking_id = %s", (booking_id,)
            )
            return cur.fetchall()

    for leg in legs:
        # the answer leaves when the decision is logged; each company's commit follows it
        # (phase two, docs/protocol.md): until then a participant's leg reads "held"
        deadline = time.monotonic() + 30
        while (
            rows(leg["company"]) != [(leg["connector_id"], "confirmed")]
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert rows(leg["company"]) == [(leg["connector_id"], "confirmed")]
