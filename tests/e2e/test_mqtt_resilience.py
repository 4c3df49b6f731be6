"""MQTT under replicas and a broker crash: nothing lost, nothing done twice (SPEC §6)."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid

import pytest

from mqtt.rpc import CarLink
from tests.broker import Mosquitto
from tests.federation import at
from tests.support import ServerProcess, create_pg_database, drop_pg_database


@pytest.fixture
def db():
    url = create_pg_database("recarga_mqtt")
    yield url
    drop_pg_database(url)


def test_two_replicas_share_the_request_topics_and_handle_each_request_once(tmp_path, db):
    broker = Mosquitto(tmp_path).start()
    replicas = [
        ServerProcess(
            "a", db, log_dir=tmp_path, RECARGA_MQTT_URL=broker.url, RECARGA_REPLICA=str(n)
        )
        for n in (1, 2)
    ]
    link = None
    try:
        for r in replicas:
            r.start()
        _wait_mqtt(replicas)
        link = CarLink(broker.url, "a", "car-many").wait_connected()
        replies: queue.Queue = queue.Queue()
        link.client.on_message = lambda c, u, msg: (
            replies.put(json.loads(msg.payload)) if msg.topic.endswith("/res") else None
        )
        ids = [f"req-{n}" for n in range(500)]
        for request_id in ids:
            link.publish_raw(
                "get",
                json.dumps({"request_id": request_id, "booking_id": "bk-none"}).encode(),
                request_id.encode(),
            )
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 500 and time.monotonic() < deadline:
            try:
                got.append(replies.get(timeout=5))
            except queue.Empty:
                break
        time.sleep(1.0)  # anything extra would arrive now
        while not replies.empty():
            got.append(replies.get())
        per_request = {}
        for reply in got:
            per_request.setdefault(reply["request_id"], []).append(reply["server"])
        assert sorted(per_request) == sorted(ids)
        assert all(len(servers) == 1 for servers in per_request.values())
        servers = [s[0] for s in per_request.values()]
        assert {s.rsplit("-", 1)[-1] for s in servers} == {"1", "2"}  # both replicas worked
    finally:
        if link:
            link.close()
        for r in replicas:
            r.stop()
        broker.kill()


def _wait_mqtt(servers, timeout=20):
    import httpx

    deadline = time.monotonic() + timeout
    for s in servers:
        while httpx.get(f"{s.api}/health").json()["mqtt"] != "connected":
            assert time.monotonic() < deadline, "bridge never connected"
            time.sleep(0.1)


def test_broker_killed_mid_trip_loses_no_request_and_telemetry_resumes(tmp_path, db):
    broker = Mosquitto(tmp_path).start()
    server = ServerProcess("a", db, log_dir=tmp_path, RECARGA_MQTT_URL=broker.url)
    link = None
    try:
        server.run_cli("seed", "--places", "recife")
        server.start()
        _wait_mqtt([server])
        import httpx

        station = httpx.get(f"{server.api}/stations").json()["items"][0]
        link = CarLink(broker.url, "a", "car-crash").wait_connected()
        results: dict[int, dict] = {}
        stop_telemetry = threading.Event()

        def telemetry():
            while not stop_telemetry.is_set():
                link.telemetry(0.5, -8.05, -34.9, 80.0)
                time.sleep(0.2)

        threading.Thread(target=telemetry, daemon=True).start()

        def book(n):
            results[n] = link.call(
                "book",
                {
                    "legs": [
                        {
                            "company": "a",
                            "station_id": station["id"],
                            "connector_id": station["connectors"][0]["id"],
                            "start": at(1000 + 40 * n),
                            "end": at(1030 + 40 * n),
                        }
                    ]
                },
                timeout=3,
                retries=20,
                request_id=f"crash-{n}-{uuid.uuid4().hex[:6]}",
            )

        threads = []
        for n in range(20):
            t = threading.Thread(target=book, args=(n,))
            t.start()
            threads.append(t)
            time.sleep(0.05)
            if n == 8:
                broker.kill()  # mid-trip
                time.sleep(1.0)
                broker.start()
        for t in threads:
            t.join(120)
        assert sorted(results) == list(range(20))
        assert all(r["status"] == 201 for r in results.values()), results
        # done exactly once each: one booking per request, no duplicate from a retry
        bookings = {r["body"]["booking_id"] for r in results.values()}
        assert len(bookings) == 20
        import psycopg2

        with psycopg2.connect(db) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM reservation WHERE car_id = 'car-crash' "
                "AND state = 'confirmed'"
            )
            assert cur.fetchone()[0] == 20
            before = _telemetry_count(cur)
        time.sleep(5)
        with psycopg2.connect(db) as conn, conn.cursor() as cur:
            assert _telemetry_count(cur) > before  # telemetry resumed after the restart
        stop_telemetry.set()
    finally:
        if link:
            link.close()
        server.stop()
        broker.kill()


def _telemetry_count(cur) -> int:
    cur.execute("SELECT coalesce(sum(messages), 0) FROM car_telemetry WHERE car_id = 'car-crash'")
    return cur.fetchone()[0]
