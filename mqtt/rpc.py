"""A car's (or a person's, or a test's) side of MQTT request/response.

``CarLink(url, company, car_id).call("book", {...})`` publishes on the car's request topic with
a Response Topic and Correlation Data and waits for the matching response. Events pushed to the
car land in ``events``. Requests are QoS 1 on a persistent session; a request with no answer in
time is published again with the same ``request_id`` (the server answers a retry from its
replay cache instead of doing it twice).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt import address, topics


class NoResponse(TimeoutError):
    pass


class CarLink:
    def __init__(
        self,
        url: str,
        company: str,
        car_id: str,
        username: str | None = None,
        password: str | None = None,
        clean: bool = False,
        client_id: str | None = None,
    ):
        self.company, self.car_id = company, car_id
        where = address.broker(url)
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"car-{car_id}",
            protocol=paho.MQTTv5,
        )
        address.configure(self.client, where, username, password)
        self.response_topic = topics.car(company, car_id, "res")
        self.events: queue.Queue = queue.Queue()
        self._waiting: dict[bytes, queue.Queue] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.refused: str | None = None  # the broker's reason, when it refused the credential
        self._refused = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 3600
        # paho annotates the delays as int; they are seconds it compares and sleeps, a float
        # works (0.2 s: a car reconnects fast after a broker restart)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)  # type: ignore[arg-type]
        self.client.connect_async(
            where.host, where.port, keepalive=30, clean_start=clean, properties=props
        )
        self.client.loop_start()

    def _on_connect(self, client, _u, _f, reason_code, _p):
        if reason_code.is_failure:
            self.refused = str(reason_code)
            self._refused.set()
            return
        client.subscribe(
            [(self.response_topic, 1), (topics.car(self.company, self.car_id, "events"), 1)]
        )
        self.connected.set()

    def _on_message(self, _client, _userdata, msg):
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = {"raw": msg.payload.decode("utf-8", "replace")}
        if msg.topic.endswith("/events"):
            self.events.put(body)
            return
        corr = getattr(msg.properties, "CorrelationData", None)
        with self._lock:
            waiter = self._waiting.get(corr) if corr is not None else None
        if waiter is not None:
            waiter.put(body)

    def wait_connected(self, timeout: float = 10) -> CarLink:
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.05):
            if self._refused.is_set():
                raise NoResponse(f"the broker refused car {self.car_id}: {self.refused}")
            if time.monotonic() > deadline:
                raise NoResponse(f"car {self.car_id} could not connect to the broker")
        return self

    def publish_raw(self, op: str, payload: bytes, correlation: bytes | None = None) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.response_topic
        if correlation is not None:
            props.CorrelationData = correlation
        self.client.publish(
            topics.request(self.company, self.car_id, op), payload, qos=1, properties=props
        )

    def call(
        self,
        op: str,
        fields: dict,
        timeout: float = 30,
        retries: int = 2,
        request_id: str | None = None,
    ) -> dict:
        request_id = request_id or uuid.uuid4().hex
        corr = request_id.encode()
        waiter: queue.Queue = queue.Queue()
        with self._lock:
            self._waiting[corr] = waiter
        try:
            payload = json.dumps({"request_id": request_id, **fields}).encode()
            for _ in range(retries + 1):
                self.publish_raw(op, payload, corr)
                try:
                    return waiter.get(timeout=timeout)
                except queue.Empty:
                    continue
            raise NoResponse(f"no response to {op} {request_id} from company {self.company}")
        finally:
            with self._lock:
                self._waiting.pop(corr, None)

    def telemetry(self, soc: float, lat: float, lon: float, speed_kmh: float) -> None:
        self.client.publish(
            topics.car(self.company, self.car_id, "telemetry"),
            json.dumps(
                {"soc": round(soc, 4), "lat": lat, "lon": lon, "speed_kmh": round(speed_kmh, 1)}
            ),
            qos=0,
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
