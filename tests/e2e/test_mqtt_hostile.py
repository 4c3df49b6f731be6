"""Nothing a car sends over MQTT can break its company (SPEC §6), against a real Mosquitto and a
real server on PostgreSQL: topics built from data are checked before the server publishes on
them, every request is answered where it asked (within the asking car's reply space) or on its
``…/res``, and a number no value can hold is a 400 that still names the request.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid

import httpx
import jsonschema
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt import operations, payloads, topics
from tests.support import ServerProcess

BIG = "9" * 4301


@pytest.fixture(scope="module")
def server(pg_url_module, broker, tmp_path_factory):
    s = ServerProcess(
        "a", pg_url_module, log_dir=tmp_path_factory.mktemp("logs"), RECARGA_MQTT_URL=broker.url
    )
    s.run_cli("seed", "--seed", "3")
    yield s.start().wait_bridge()
    s.stop()


class Raw:
    """A bare MQTT 5 client: publishes whatever a test says, records what it receives with the
    topic and the correlation data."""

    def __init__(self, broker, client_id: str | None = None):
        self.received: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"raw-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_disconnect = lambda *a: self.gone.set()
        self.client.on_message = lambda _c, _u, m: self.received.put(
            (m.topic, getattr(m.properties, "CorrelationData", None), json.loads(m.payload))
        )
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.connected.wait(10)

    def subscribe(self, *patterns: str) -> Raw:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(p, 1) for p in patterns])
        assert done.wait(10)
        return self

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        response_topic: str | None = None,
        correlation: bytes | None = None,
    ) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if response_topic is not None:
            props.ResponseTopic = response_topic
        if correlation is not None:
            props.CorrelationData = correlation
        self.client.publish(topic, payload, qos=1, properties=props)

    def next(self, timeout: float = 10) -> tuple[str, bytes | None, dict]:
        return self.received.get(timeout=timeout)

    def nothing(self, seconds: float = 1.0) -> bool:
        try:
            self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def raw(broker):
    clients = []

    def make(*subscriptions: str) -> Raw:
        client = Raw(broker)
        clients.append(client)
        return client.subscribe(*subscriptions) if subscriptions else client

    yield make
    for client in clients:
        client.close()


def _car() -> str:
    return f"car-{uuid.uuid4().hex[:8]}"


def _still_serving(server, raw) -> None:
    car = _car()
    client = raw(topics.car("a", car, "res"))
    client.publish(
        topics.request("a", car, "get"),
        json.dumps({"request_id": "alive", "booking_id": "bk-unknown"}),
        topics.car("a", car, "res"),
        b"c",
    )
    _, _, reply = client.next()
    assert reply["status"] == 404
    assert httpx.get(f"{server.api}/health").json()["mqtt"] == "connected"


def _conforms(reply: dict) -> dict:
    jsonschema.validate(reply, payloads.RESPONSE)
    return reply


def test_a_newline_car_id_is_refused_and_the_bridge_stays_connected(server, raw, station_leg):
    # REST: the booking is refused, so no event is ever published on a topic with a newline
    r = httpx.post(
        f"{server.api}/bookings",
        headers=server.admin,
        json={"car_id": "nl-car\n", "legs": [station_leg]},
    )
    assert r.status_code == 400, r.text
    # MQTT: a topic holding a newline never reaches the server (the broker drops its sender)
    hostile = raw()
    hostile.publish(
        topics.request("a", "nl-car\n", "book"),
        json.dumps({"request_id": "nl", "legs": [station_leg]}),
    )
    assert hostile.gone.wait(10)
    # MQTT: an id with a newline inside a payload is a 400 like any other malformed field
    car = _car()
    client = raw(topics.car("a", car, "res"))
    client.publish(
        topics.request("a", car, "get"),
        json.dumps({"request_id": "nl-booking", "booking_id": "bk-1\n"}),
        topics.car("a", car, "res"),
    )
    _, _, reply = client.next()
    assert _conforms(reply)["status"] == 400 and reply["request_id"] == "nl-booking"
    _still_serving(server, raw)
    assert "disconnected" not in server.log_path.read_text()
    with httpx.Client() as http:
        rows = http.get(f"{server.api}/monitor/federation", headers=server.admin).json()
    assert all("nl-car" not in json.dumps(tx) for tx in rows["transactions"])


@pytest.fixture(scope="module")
def station_leg(server):
    station = httpx.get(f"{server.api}/stations", params={"limit": 1}).json()["items"][0]
    return {
        "company": "a",
        "station_id": station["id"],
        "connector_id": station["connectors"][0]["id"],
        "start": "2030-01-01T10:00:00Z",
        "end": "2030-01-01T11:00:00Z",
    }


@pytest.mark.parametrize("number", [BIG, "1e999", "-" + BIG])
def test_a_number_no_value_can_hold_is_a_400_naming_the_request_on_every_operation(
    server, raw, number
):
    car = _car()
    client = raw(topics.car("a", car, "res"))
    for op in [*operations.OPERATIONS, "unknown-op"]:
        payload = f'{{"request_id": "big-{op}", "booking_id": "bk-1", "n": {number}}}'
        client.publish(
            topics.request("a", car, op), payload, topics.car("a", car, "res"), op.encode()
        )
        topic, correlation, reply = client.next()
        assert topic == topics.car("a", car, "res") and correlation == op.encode()
        assert _conforms(reply)["status"] == 400, reply
        assert reply["request_id"] == f"big-{op}"
        assert "number" in reply["error"]["detail"] or "range" in reply["error"]["detail"]
    _still_serving(server, raw)


def test_telemetry_and_station_status_with_a_huge_number_are_dropped_and_logged(
    server, raw, pg_url_module
):
    import contextlib

    import psycopg2

    bad, good = _car(), _car()
    client = raw()
    client.publish(
        topics.car("a", bad, "telemetry"),
        f'{{"soc": {BIG}, "lat": -8, "lon": -35, "speed_kmh": 80}}',
    )
    client.publish(
        topics.station("a", "a-recife-1", "status"), f'{{"status": "available", "x": {BIG}}}'
    )
    client.publish(
        topics.car("a", good, "telemetry"),
        json.dumps({"soc": 0.5, "lat": -8, "lon": -35, "speed_kmh": 80}),
    )

    def cars() -> set[str]:
        with contextlib.closing(psycopg2.connect(pg_url_module)) as conn, conn.cursor() as cur:
            cur.execute("SELECT car_id FROM car_telemetry")
            return {row[0] for row in cur.fetchall()}

    deadline = time.monotonic() + 15
    while good not in cars():
        assert time.monotonic() < deadline, "the good telemetry never arrived"
        time.sleep(0.2)
    assert bad not in cars()
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert f"car {bad} sent bad telemetry" in log
    _still_serving(server, raw)


def test_a_wildcard_response_topic_is_answered_on_the_cars_own_reply_topic(server, raw):
    car = _car()
    client = raw(topics.car("a", car, "res/#"))  # …/res and below
    for asked in (topics.car("a", car, "res/+"), topics.car("a", car, "res/#"), "+/#"):
        client.publish(
            topics.request("a", car, "get"),
            json.dumps({"request_id": f"w-{asked}", "booking_id": "bk-none"}),
            asked,
            b"wild",
        )
        topic, correlation, reply = client.next()
        assert (topic, correlation) == (topics.car("a", car, "res"), b"wild")
        assert reply["request_id"] == f"w-{asked}" and reply["status"] == 404
    _still_serving(server, raw)
    assert "Traceback" not in server.log_path.read_text()


def test_a_retry_with_a_new_response_topic_is_answered_where_the_retry_asks(server, raw):
    car = _car()
    client = raw(topics.car("a", car, "res/#"))
    request = json.dumps({"request_id": "retry-1", "booking_id": "bk-none"})
    client.publish(
        topics.request("a", car, "get"), request, topics.car("a", car, "res/one"), b"first"
    )
    first = client.next()
    assert first[:2] == (topics.car("a", car, "res/one"), b"first")
    client.publish(
        topics.request("a", car, "get"), request, topics.car("a", car, "res/two"), b"second"
    )
    second = client.next()
    assert second[:2] == (topics.car("a", car, "res/two"), b"second")
    assert second[2] == first[2]  # the same answer, from the replay cache
    assert client.nothing(0.5)


def test_a_reply_never_lands_in_another_cars_topics(server, raw):
    asker, victim = _car(), _car()
    watching = raw(
        topics.car("a", victim, "res/#"),
        topics.car("b", victim, "events"),
        topics.car("a", asker, "events"),
        topics.car("a", asker, "resx"),
    )
    client = raw(topics.car("a", asker, "res"))
    for n, elsewhere in enumerate(
        (
            topics.car("a", victim, "res"),
            topics.car("b", victim, "events"),
            topics.request("a", victim, "cancel"),
            topics.car("a", asker, "events"),
            topics.car("a", asker, "resx"),
        )
    ):
        client.publish(
            topics.request("a", asker, "get"),
            json.dumps({"request_id": f"x-{n}", "booking_id": "bk-none"}),
            elsewhere,
            b"x",
        )
        topic, _, reply = client.next()
        assert topic == topics.car("a", asker, "res") and reply["request_id"] == f"x-{n}"
    assert watching.nothing(1.0)


@pytest.mark.parametrize("car_id", ["bad car!", "x" * 65])
def test_a_refused_car_id_without_a_response_topic_is_answered_on_its_reply_topic(
    server, raw, car_id
):
    client = raw(topics.car("a", car_id, "res"))
    client.publish(
        topics.request("a", car_id, "get"),
        json.dumps({"request_id": "no-topic", "booking_id": "bk-1"}),
    )
    _, _, reply = client.next()
    assert _conforms(reply)["status"] == 400 and reply["request_id"] == "no-topic"
    assert "car id" in reply["error"]["detail"]


@pytest.mark.parametrize("levels", [33, 5000])
def test_a_payload_nested_too_deep_keeps_its_readable_request_id(server, raw, levels):
    car = _car()
    client = raw(topics.car("a", car, "res"))
    nested = "[" * levels + "]" * levels
    payload = f'{{"request_id": "deep-{levels}", "x": {nested}}}'
    client.publish(topics.request("a", car, "plan"), payload, topics.car("a", car, "res"))
    _, _, reply = client.next()
    assert _conforms(reply)["status"] == 400 and reply["request_id"] == f"deep-{levels}"
    assert "nests deeper" in reply["error"]["detail"]
