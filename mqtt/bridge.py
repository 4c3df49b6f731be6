"""The server side of MQTT: car requests, telemetry and station messages, over one service layer.

paho-mqtt 2 with MQTT 5, QoS 1, a persistent session (``clean_start`` off, an hour of session
expiry), and shared subscriptions so that replicas of one company split the car requests.
Messages are handled on a small worker pool, never on paho's network thread — one station's
messages one after another, in the order the broker delivered them (its retained status, then
its Last Will, must not be applied the other way round) — and every
request gets exactly one response on its Response Topic with its Correlation Data — an error
response when the payload is malformed or the operation unknown. Nothing a car or station
sends can stop the bridge: each message is handled inside its own ``try``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, ThreadPoolExecutor

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from booking.errors import BadInput, DomainError, NotFound, PeerUnavailable, problem
from mqtt import address, operations, payloads, topics
from service import charging
from service.catalogs import stations
from service.company import inputs
from service.company.context import Context
from service.protocol import coordinator

log = logging.getLogger(__name__)

REPLAY_CACHE = 2048  # responses remembered by (car, request_id): a retried request is not redone


class InOrder:
    """Runs the tasks given for one key one after another, in the order given, on ``pool``;
    tasks of different keys run in parallel. A key's queue exists while a worker drains it."""

    def __init__(self, pool: Executor):
        self.pool = pool
        self._lock = threading.Lock()
        self._queues: dict[Hashable, deque] = {}

    def submit(self, key: Hashable, task: Callable[..., object], *args) -> None:
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:  # a worker is draining this key: it will run this too
                queue.append((task, args))
                return
            self._queues[key] = deque([(task, args)])
        self.pool.submit(self._drain, key)

    def _drain(self, key: Hashable) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                task, args = queue.popleft()
            try:
                task(*args)
            except Exception:  # one task's failure must not stall the key's others
                log.exception("task for %s failed", key)


class Bridge:
    """Built before the service context (which it gives ``notify`` and ``status``), started
    with it (``start(ctx)``), the way the composition root wires them."""

    def __init__(self, company: str, url: str, replica: str | None = None, workers: int = 8):
        self._ctx: Context | None = None  # the service context, from start()
        self.address = address.broker(url)
        self.company = company
        self.client_id = f"recarga-server-{company}-{replica or uuid.uuid4().hex[:8]}"
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mqtt")
        self.in_order = InOrder(self.pool)
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5
        )
        address.configure(self.client, self.address)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.connected = threading.Event()
        # car id -> (last telemetry, messages since the last flush); flushed every few seconds
        self.telemetry: dict[str, tuple[dict, int]] = {}
        self._stop = threading.Event()
        self._replies: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._republishing: set[str] = set()  # stations whose schedule read is queued
        self._lock = threading.Lock()

    # -- life -----------------------------------------------------------------------------------

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the MQTT bridge is used before start(ctx)")
        return self._ctx

    def start(self, ctx: Context) -> Bridge:
        """Serve cars and stations with the use cases of ``ctx``."""
        self._ctx = ctx
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect_async(
            self.address.host, self.address.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        threading.Thread(target=self._flush_loop, name="telemetry", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._flush()  # the last telemetry batch is kept, not dropped
        self.client.disconnect()
        self.client.loop_stop()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> str:
        return "connected" if self.connected.is_set() else "disconnected"

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        group = f"recarga-{self.company}"
        base = f"{topics.ROOT}/{self.company}"
        client.subscribe(
            [
                (topics.share(group, f"{base}/cars/+/req/+"), 1),
                (topics.share(group, f"{base}/cars/+/telemetry"), 0),
                (topics.share(group, f"{base}/stations/+/birth"), 1),
                (topics.share(group, f"{base}/stations/+/status"), 1),
            ]
        )
        self.connected.set()
        log.info(
            "MQTT bridge %s connected to %s:%d",
            self.client_id,
            self.address.host,
            self.address.port,
        )

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected.clear()
        log.warning("MQTT bridge disconnected (%s); reconnecting", reason_code)

    # -- dispatch -------------------------------------------------------------------------------

    def _on_message(self, _client, _userdata, msg):
        where = topics.parse(msg.topic)
        if where is not None and where.kind == "stations":  # a station's messages in order
            self.in_order.submit(
                where.subject, self._handle, msg.topic, msg.payload, msg.properties
            )
        else:
            self.pool.submit(self._handle, msg.topic, msg.payload, msg.properties)

    def _handle(self, topic: str, payload: bytes, properties) -> None:
        try:
            where = topics.parse(topic)
            if where is None or where.company != self.company:
                return
            if where.kind == "cars" and not inputs.is_car_id(where.subject):
                self._bad_car_id(where, payload, properties)
            elif where.kind == "cars" and where.leaf.startswith("req/"):
                self._request(where.subject, where.leaf[4:], payload, properties)
            elif where.kind == "cars" and where.leaf == "telemetry":
                self._telemetry(where.subject, payload)
            elif where.kind == "stations" and where.leaf in ("status", "birth"):
                self._station(where.subject, where.leaf, payload)
        except Exception:  # a bug must cost one message, never the bridge
            log.exception("MQTT message on %s failed", topic)

    def _request(self, car_id: str, op: str, payload: bytes, properties) -> None:
        response_topic = topics.reply_to(
            self.company, car_id, getattr(properties, "ResponseTopic", None)
        )
        correlation = getattr(properties, "CorrelationData", None)
        request_id = None
        try:
            request_id, fields = payloads.request(op, payload, operations.SCHEMAS)
            key = (car_id, request_id)
            with self._lock:
                cached = self._replies.get(key)
            if cached is not None:  # a retry after a lost response: the same answer, sent
                self._publish_response(response_topic, correlation, cached)  # where it asks now
                return
            status, body = self._call(car_id, op, fields, request_id)
            reply = {
                "request_id": request_id,
                "op": op,
                "status": status,
                "ok": status < 400,
                ("body" if status < 400 else "error"): body,
                "server": self.client_id,
            }
        except DomainError as exc:
            request_id = (
                request_id or exc.extra.get("request_id") or payloads.readable_request_id(payload)
            )
            error = exc.problem()
            error.pop("request_id", None)
            reply = {
                "request_id": request_id,
                "op": op,
                "status": exc.status,
                "ok": False,
                "error": error,
            }
        except Exception as exc:
            log.exception("car %s request %s failed", car_id, op)
            reply = {
                "request_id": request_id,
                "op": op,
                "status": 500,
                "ok": False,
                "error": problem(500, "Internal error", type(exc).__name__),
            }
        reply.setdefault("server", self.client_id)
        if reply["status"] == 503:  # a company was silent or unreachable: when to try again
            reply["retry_after"] = PeerUnavailable.retry_after
        if request_id is not None:
            with self._lock:
                self._replies[(car_id, request_id)] = reply
                while len(self._replies) > REPLAY_CACHE:
                    self._replies.popitem(last=False)
        self._publish_response(response_topic, correlation, reply)

    def _bad_car_id(self, where, payload: bytes, properties) -> None:
        """A car id the contract refuses: a request gets an error response (where it asked,
        within that car's reply space, else on its ``…/res``), and nothing else is done."""
        log.info("MQTT message from a car id the contract refuses: %r", where.subject[:80])
        if not where.leaf.startswith("req/"):
            return
        response_topic = topics.reply_to(
            self.company, where.subject, getattr(properties, "ResponseTopic", None)
        )
        if not topics.publishable(response_topic):
            log.info("no topic to answer car id %r on", where.subject[:80])
            return
        self._publish_response(
            response_topic,
            getattr(properties, "CorrelationData", None),
            {
                "request_id": payloads.readable_request_id(payload),
                "op": where.leaf[4:],
                "status": 400,
                "ok": False,
                "error": problem(
                    400, "Bad Request", f"the car id in the topic must match {inputs.CAR_ID}"
                ),
                "server": self.client_id,
            },
        )

    def _publish_response(self, topic: str, correlation: bytes | None, reply: dict) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if correlation is not None:
            props.CorrelationData = correlation
        props.MessageExpiryInterval = 600
        self._publish(topic, json.dumps(reply, default=str), properties=props)

    def _publish(
        self, topic: str, payload: str, retain: bool = False, properties: Properties | None = None
    ) -> None:
        """Every publish goes through here: a topic the broker would refuse (a wildcard, a
        control character) is never sent, since the broker answers one by dropping the whole
        bridge's connection."""
        if not topics.publishable(topic):
            log.warning("not publishing on a topic the broker refuses: %r", topic[:200])
            return
        self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)

    def _call(self, car_id: str, op: str, f: dict, request_id: str) -> tuple[int, dict]:
        """One car operation: the same service functions the REST handlers call."""
        operation = operations.OPERATIONS[op]
        if operation.car_owns_booking:
            self._own(car_id, f["booking_id"])
        return operation.run(self.ctx, car_id, f, request_id)

    def _own(self, car_id: str, booking_id: str) -> None:
        """A car may act only on its own bookings (its topic is its identity at the broker)."""
        if coordinator.owner(self.ctx, booking_id) != car_id:
            raise NotFound(f"car {car_id} has no booking {booking_id}")

    def _telemetry(self, car_id: str, payload: bytes) -> None:
        try:
            data = payloads.decode(payload)
            payloads.validate("telemetry", payloads.TELEMETRY, data)
        except BadInput as exc:  # telemetry has no response topic: log it
            log.info("car %s sent bad telemetry: %s", car_id, exc.detail)
            return
        with self._lock:
            _, count = self.telemetry.get(car_id, (None, 0))
            self.telemetry[car_id] = (data, count + 1)

    def _flush_loop(self, every: float = 2.0) -> None:
        """Telemetry reaches the database in one batch per interval: one row per car."""
        while not self._stop.wait(every):
            self._flush()

    def _flush(self) -> None:
        from booking.model import utcnow

        with self._lock:
            batch, self.telemetry = self.telemetry, {}
        if batch:
            now = utcnow()
            rows = [
                {
                    "car_id": car,
                    "soc": d["soc"],
                    "lat": d["lat"],
                    "lon": d["lon"],
                    "speed_kmh": d["speed_kmh"],
                    "messages": n,
                    "received_at": now,
                }
                for car, (d, n) in batch.items()
            ]
            try:
                with self.ctx.store.transaction():
                    self.ctx.store.save_telemetry(rows)
            except Exception:
                log.exception("telemetry flush failed; %d cars' latest values dropped", len(rows))

    def _station(self, station_id: str, leaf: str, payload: bytes) -> None:
        try:
            data = payloads.decode(payload) if payload else {"status": "offline"}
            if leaf == "status":
                payloads.validate("station status", payloads.STATION_STATUS, data)
        except BadInput as exc:
            log.info("station %s sent a bad %s: %s", station_id, leaf, exc.detail)
            return
        if leaf == "birth":
            self.publish_schedule(station_id)
            return
        try:
            charging.set_station_status(self.ctx, station_id, data["status"])
        except DomainError as exc:
            log.info("station %s status ignored: %s", station_id, exc.detail)

    # -- pushes ---------------------------------------------------------------------------------

    def notify(self, company: str, car_id: str | None, event: dict) -> None:
        if not car_id:
            return
        self._publish(
            topics.car(company, car_id, "events"),
            json.dumps({**event, "ts": time.time()}, default=str),
        )

    def stations_changed(self, station_ids: set[str]) -> None:
        """Stations whose windows changed: each gets its schedule again, in order per station
        (behind its other messages), off the caller's thread. Changes arriving while one is
        still waiting to be read share that one read (a burst of bookings, one publication)."""
        for station_id in sorted(station_ids):
            with self._lock:
                waiting = station_id in self._republishing
                self._republishing.add(station_id)
            if not waiting:
                self.in_order.submit(station_id, self._republish, station_id)

    def _republish(self, station_id: str) -> None:
        with self._lock:  # from here on, a change is read by this task or queues another
            self._republishing.discard(station_id)
        try:
            self.publish_schedule(station_id)
        except Exception:  # a schedule not sent is sent again at the next change or birth
            log.exception("schedule of %s not published", station_id)

    def publish_schedule(self, station_id: str) -> None:
        """The station's upcoming windows, retained, so it has them whenever it (re)connects."""
        schedule = stations.station_schedule(self.ctx, station_id)
        if schedule is not None:
            self._publish(
                topics.station(self.company, station_id, "schedule"),
                json.dumps(schedule),
                retain=True,
            )
