"""The broker as the container deployment ships it (docker/mosquitto: TLS, the dynamic-security
plugin, the accounts of ``recarga accounts``): every car, station and server is only itself, only
servers read requests, a device's credential is revoked at run time, and nobody talks in clear.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from carsim.station import StationLink
from mqtt import address
from mqtt.certs import authority
from mqtt.rpc import CarLink, NoResponse
from tests.broker import Deployed
from tests.federation import leg
from tests.support import ROOT, ServerProcess


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    b = Deployed(tmp_path_factory.mktemp("deployed"), cars=10).start()
    yield b
    b.kill()


class Client:
    def __init__(
        self,
        broker: Deployed,
        user: str | None,
        password: str | None = None,
        url: str | None = None,
    ):
        self.c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"t-{user}-{time.time_ns()}",
            protocol=paho.MQTTv5,
        )
        where = address.broker(url or broker.url(user, password))
        address.configure(self.c, where)
        self.acks: dict[int, object] = {}
        self.subacks: dict[int, list] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.connect_rc = None
        self.ready, self.gone = threading.Event(), threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.gone.set()
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, rcs)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.connect_async(where.host, where.port)
        self.c.loop_start()
        self.ready.wait(5)

    def _on_connect(self, c, u, f, rc, p):
        self.connect_rc = rc
        self.ready.set()

    @property
    def accepted(self) -> bool:
        return self.connect_rc is not None and not self.connect_rc.is_failure

    def publish(self, topic, payload=b'{"request_id": "x"}', retain=False) -> object:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.acks.get(info.mid)

    def subscribe(self, topic) -> object:
        _, mid = self.c.subscribe(topic, qos=1)
        deadline = time.monotonic() + 5
        while mid not in self.subacks and time.monotonic() < deadline:
            time.sleep(0.02)
        [granted] = self.subacks[mid]
        return granted

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_each_device_logs_in_only_as_itself(deployed):
    """One secret per device: car-000's secret does not open car-001, nor a station's."""
    own = Client(deployed, "car-000")
    assert own.accepted
    for user, password in [
        ("car-001", deployed.devices["car-000"]),
        ("a-recife-1", deployed.devices["car-000"]),
        ("a-recife-2", deployed.devices["a-recife-1"]),
        ("server-a", deployed.devices["car-000"]),
        ("admin", deployed.devices["car-000"]),
        ("car-001", "not-the-secret"),
        (None, None),
    ]:
        intruder = Client(deployed, user, password)
        assert intruder.connect_rc is not None and intruder.connect_rc.is_failure, user
        intruder.close()
    assert len(set(deployed.devices.values())) == len(deployed.devices)  # no shared secret
    own.close()


def test_a_car_cannot_publish_or_subscribe_on_another_cars_topics(deployed):
    car1, car2, server = (
        Client(deployed, "car-001"),
        Client(deployed, "car-002"),
        Client(deployed, "server-a"),
    )
    try:
        assert not car1.publish("recarga/a/cars/car-001/req/book").is_failure
        assert not car1.publish("recarga/c/cars/car-001/telemetry").is_failure
        assert car1.publish("recarga/a/cars/car-002/req/book").is_failure  # as another car
        assert car1.publish("recarga/a/cars/car-002/telemetry").is_failure
        assert car1.publish("recarga/a/cars/car-001/events").is_failure  # pushes are servers'
        assert car1.publish("recarga/a/cars/car-001/res").is_failure
        for mine in (
            "recarga/a/cars/car-001/events",
            "recarga/b/cars/car-001/res",
            "recarga/a/cars/car-001/res/phone",
        ):
            assert not car1.subscribe(mine).is_failure, mine
        for theirs in (
            "recarga/a/cars/car-002/events",
            "recarga/a/cars/+/events",
            "recarga/#",
            "#",
            "recarga/a/cars/car-002/res",
            "$SYS/#",
            "$CONTROL/dynamic-security/v1/response",
        ):
            assert car1.subscribe(theirs).is_failure, theirs
        assert not car2.subscribe("recarga/a/cars/car-002/events").is_failure
        assert not server.publish("recarga/a/cars/car-002/events").is_failure
        assert not server.publish("recarga/a/cars/car-001/events").is_failure
        deadline = time.monotonic() + 5
        while not (car2.messages and car1.messages) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert [t for t, _ in car2.messages] == ["recarga/a/cars/car-002/events"]
        assert sorted({t for t, _ in car1.messages}) == ["recarga/a/cars/car-001/events"]
    finally:
        for c in (car1, car2, server):
            c.close()


def test_a_station_cannot_publish_as_another_station(deployed):
    st1, st2 = Client(deployed, "a-recife-1"), Client(deployed, "a-recife-2")
    server = Client(deployed, "server-a")
    try:
        assert not st1.publish("recarga/a/stations/a-recife-1/status").is_failure
        offline = b'{"status": "offline"}'
        assert st1.publish("recarga/a/stations/a-recife-2/status", offline, True).is_failure
        assert st1.publish("recarga/a/stations/a-recife-2/birth").is_failure
        assert st1.publish("recarga/b/stations/a-recife-1/status").is_failure  # not its company
        assert st1.publish("recarga/a/cars/car-001/req/book").is_failure
        assert st1.subscribe("recarga/a/stations/a-recife-2/schedule").is_failure
        assert not st2.subscribe("recarga/a/stations/a-recife-2/schedule").is_failure
        assert not server.publish("recarga/a/stations/a-recife-2/schedule").is_failure
        deadline = time.monotonic() + 5
        while not st2.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert st2.messages and not st1.messages
    finally:
        for c in (st1, st2, server):
            c.close()


def test_a_server_is_only_its_company(deployed):
    server = Client(deployed, "server-a")
    try:
        assert server.publish("recarga/b/cars/car-001/res").is_failure
        assert server.publish("recarga/b/stations/b-maceio-1/schedule").is_failure
        assert server.subscribe("$share/recarga-b/recarga/b/cars/+/req/+").is_failure
        assert server.subscribe("recarga/b/#").is_failure
        assert not server.subscribe("$share/recarga-a/recarga/a/cars/+/req/+").is_failure
    finally:
        server.close()


@pytest.fixture(scope="module")
def server(pg_url_module, deployed, tmp_path_factory):
    s = ServerProcess(
        "a",
        pg_url_module,
        log_dir=tmp_path_factory.mktemp("logs"),
        RECARGA_MQTT_URL=deployed.url("server-a"),
    )
    s.run_cli("seed", "--seed", "3")
    yield s.start().wait_bridge()
    s.stop()


def test_only_servers_read_requests_even_through_the_servers_shared_group(deployed, server):
    """A car joining the servers' shared subscription would take half of every car's requests
    (never answered); the broker refuses it, and every request is answered."""
    thief = Client(deployed, "car-003")
    asker = CarLink(deployed.url("car-004"), "a", "car-004", clean=True).wait_connected()
    try:
        for group in (
            "$share/recarga-a/recarga/a/cars/+/req/+",
            "recarga/a/cars/+/req/+",
            "$share/recarga-a/recarga/a/stations/+/status",
            "$share/recarga-a/recarga/a/cars/+/telemetry",
        ):
            assert thief.subscribe(group).is_failure, group
        answers = [asker.call("get", {"booking_id": f"none-{i}"}, timeout=5) for i in range(8)]
        assert [a["status"] for a in answers] == [404] * 8
        assert not thief.messages
    finally:
        asker.close()
        thief.close()


def test_a_device_is_issued_and_revoked_at_run_time_without_restarting_the_broker(deployed):
    admin = deployed.url("admin")
    pid = deployed.broker.proc.pid
    issued = subprocess.run(
        [
            sys.executable,
            "-m",
            "recarga.cli",
            "accounts",
            "add",
            "car",
            "car-777",
            "--broker",
            admin,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    device, secret = issued.stdout.split()
    assert device == "car-777" and len(secret) >= 24
    assert "shown this once" in issued.stderr
    car = Client(deployed, "car-777", secret)
    assert car.accepted and not car.publish("recarga/b/cars/car-777/req/get").is_failure
    assert car.publish("recarga/b/cars/car-001/req/get").is_failure
    listed = subprocess.run(
        [sys.executable, "-m", "recarga.cli", "accounts", "list", "--broker", admin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "car-777" in listed and "car-000" in listed
    subprocess.run(
        [sys.executable, "-m", "recarga.cli", "accounts", "revoke", "car-777", "--broker", admin],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert car.gone.wait(5), "the revoked device stayed connected"
    car.close()
    again = Client(deployed, "car-777", secret)
    assert again.connect_rc is not None and again.connect_rc.is_failure
    again.close()
    assert deployed.broker.proc.pid == pid and deployed.broker.proc.poll() is None
    refused = subprocess.run(
        [sys.executable, "-m", "recarga.cli", "accounts", "add", "car", "car/+", "--broker", admin],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "not a car id" in refused.stderr  # no wildcard ACLs


def test_only_tls_and_only_the_federations_broker(deployed, tmp_path):
    secret = deployed.devices["car-005"]
    # plain MQTT to the TLS listener: no connection at all
    plain = Client(deployed, "car-005", url=f"mqtt://car-005:{secret}@127.0.0.1:{deployed.port}")
    assert not plain.accepted
    plain.close()
    # a broker certificate from another CA is not trusted
    authority(tmp_path)
    stranger = f"mqtts://car-005:{secret}@127.0.0.1:{deployed.port}?cafile={tmp_path}/ca.crt"
    with pytest.raises(NoResponse):
        CarLink(stranger, "a", "car-005", clean=True).wait_connected(3)
    # the federation's CA, but a name the certificate does not carry
    wrong_name = f"mqtts://car-005:{secret}@localhost:{deployed.port}?cafile={deployed.ca}"
    with pytest.raises(NoResponse):
        CarLink(wrong_name, "a", "car-005", clean=True).wait_connected(3)
    link = CarLink(deployed.url("car-005"), "a", "car-005", clean=True).wait_connected()
    link.close()


def test_a_stations_schedule_carries_windows_and_cars_not_bookings(deployed, server):
    """What a station receives: its connectors' windows and the car expected in each, nothing
    about the booking behind it (ids, channel, driver, other legs) — sent again whenever a
    window is confirmed or cancelled, not only when the station connects."""
    items = httpx.get(f"{server.api}/stations", params={"limit": 1000}).json()["items"]
    station = next(s for s in items if s["id"] in deployed.devices and s["id"] != items[0]["id"])
    driver = httpx.post(
        f"{server.api}/drivers", headers=server.admin, json={"name": "schedule check"}
    ).json()
    auth = {"Authorization": f"Bearer {driver['token']}"}
    link = StationLink(deployed.url(station["id"]), "a", station["id"])

    def schedule(expected, what: str) -> None:
        deadline = time.monotonic() + 10
        while link.schedule != expected:
            assert time.monotonic() < deadline, f"{what}: the station has {link.schedule}"
            time.sleep(0.05)

    try:
        assert link.connected.wait(10)
        booked = httpx.post(
            f"{server.api}/bookings",
            headers=auth,
            json={"car_id": "car-009", "legs": [leg(station, 120, 150)]},
        )
        assert booked.status_code == 201, booked.text
        window = {
            "connector_id": station["connectors"][0]["id"],
            "start": booked.json()["legs"][0]["start"],
            "end": booked.json()["legs"][0]["end"],
            "car_id": "car-009",
            "state": "confirmed",
        }
        schedule([window], "a booking confirmed while the station is connected")
        cancelled = httpx.delete(
            f"{server.api}/bookings/{booked.json()['booking_id']}", headers=auth
        )
        assert cancelled.status_code == 200, cancelled.text
        schedule([], "the booking cancelled")
    finally:
        link.close()
