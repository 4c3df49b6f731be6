"""The broker configuration in docker/mosquitto refuses clients outside their own topics."""

from __future__ import annotations

import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import Mosquitto, docker_config

USERS = {"car-001": "pw-car-1", "car-002": "pw-car-2", "a-recife-1": "pw-st-1",
         "a-recife-2": "pw-st-2", "server-a": "pw-server-a"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("acl")
    passwords = tmp / "passwords"
    passwords.touch()
    for user, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    b = Mosquitto(tmp, extra_config=docker_config(passwords)).start()
    yield b
    b.kill()


class Client:
    def __init__(self, broker, user, password=None):
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.time_ns()}",
                             protocol=paho.MQTTv5)
        self.c.username_pw_set(user, password if password is not None else USERS[user])
        self.acks: dict[int, object] = {}
        self.subacks: dict[int, list] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.connect_rc = None
        self.ready = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, rcs)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        self.ready.wait(5)

    def _on_connect(self, c, u, f, rc, p):
        self.connect_rc = rc
        self.ready.set()

    def publish(self, topic) -> object:
        info = self.c.publish(topic, b'{"request_id": "x"}', qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.acks.get(info.mid)

    def subscribe(self, topic) -> list:
        _, mid = self.c.subscribe(topic, qos=1)
        deadline = time.monotonic() + 5
        while mid not in self.subacks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.subacks.get(mid)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_wrong_password_and_anonymous_are_refused(broker):
    bad = Client(broker, "car-001", "not-the-password")
    assert bad.connect_rc is not None and bad.connect_rc.is_failure
    bad.close()


def test_a_car_cannot_publish_or_subscribe_on_another_cars_topics(broker):
    car1, car2, server = Client(broker, "car-001"), Client(broker, "car-002"), \
        Client(broker, "server-a")
    try:
        assert not car1.publish("recarga/a/cars/car-001/req/book").is_failure
        assert car1.publish("recarga/a/cars/car-002/req/book").is_failure  # as another car
        assert car1.publish("recarga/a/cars/car-002/telemetry").is_failure
        assert car1.publish("recarga/a/cars/car-001/events").is_failure  # pushes are servers'
        [own] = car1.subscribe("recarga/a/cars/car-001/events")
        assert not own.is_failure
        # Mosquitto 2.0 grants a subscription to a denied topic but never delivers on it:
        # the ACL's read check runs on every message it would send.
        car1.subscribe("recarga/a/cars/car-002/events")
        car1.subscribe("recarga/a/cars/+/events")
        car1.subscribe("recarga/#")
        car2.subscribe("recarga/a/cars/car-002/events")
        assert not server.publish("recarga/a/cars/car-002/events").is_failure
        assert not server.publish("recarga/a/cars/car-001/events").is_failure
        deadline = time.monotonic() + 5
        while not car2.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert [t for t, _ in car2.messages] == ["recarga/a/cars/car-002/events"]
        assert sorted({t for t, _ in car1.messages}) == ["recarga/a/cars/car-001/events"]
    finally:
        for c in (car1, car2, server):
            c.close()


def test_a_station_cannot_publish_as_another_station(broker):
    st1, st2 = Client(broker, "a-recife-1"), Client(broker, "a-recife-2")
    try:
        assert not st1.publish("recarga/a/stations/a-recife-1/status").is_failure
        assert st1.publish("recarga/a/stations/a-recife-2/status").is_failure
        assert st1.publish("recarga/a/stations/a-recife-2/birth").is_failure
        assert st1.publish("recarga/a/cars/car-001/req/book").is_failure
        st1.subscribe("recarga/a/stations/a-recife-2/schedule")
        st2.subscribe("recarga/a/stations/a-recife-2/schedule")
        server = Client(broker, "server-a")
        assert not server.publish("recarga/a/stations/a-recife-2/schedule").is_failure
        server.close()
        deadline = time.monotonic() + 5
        while not st2.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert st2.messages and not st1.messages
    finally:
        st1.close()
        st2.close()
