"""How many cars at 1 Hz telemetry one company server takes without a backlog.

One Mosquitto, one server (its bridge on, PostgreSQL database), and publishers sending one
telemetry message per second for each of N simulated cars (spread evenly over the second) for
``--seconds``. Then publishing stops, and we time how long the server takes to have stored
every message (its telemetry is flushed to the database every 2 s). A server keeps up when
that drain time stays within one flush interval plus a second; the largest such N is the
headline. Run: python bench/mqtt.py [--quick]. The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import psycopg2
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.broker import Mosquitto  # noqa: E402
from tests.support import ServerProcess, create_pg_database, drop_pg_database  # noqa: E402

PUBLISHERS = 4
KEEPS_UP_WITHIN = 3.0  # seconds after the last publish for everything to be stored


def stored(db: str) -> int:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(messages), 0) FROM car_telemetry")
        return int(cur.fetchone()[0])


def publish(url_port: int, cars: range, seconds: float, sent: list[int]) -> None:
    client = paho.Client(
        CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5, client_id=f"bench-{cars.start}"
    )
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    payload = json.dumps({"soc": 0.5, "lat": -8.05, "lon": -34.9, "speed_kmh": 88.0})
    topics = [f"recarga/a/cars/bench-{i}/telemetry" for i in cars]
    start = time.perf_counter()
    count = 0
    for second in range(int(seconds)):
        for k, topic in enumerate(topics):
            due = start + second + k / len(topics)
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            client.publish(topic, payload, qos=0)
            count += 1
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    sent.append(count)


def run(broker: Mosquitto, db: str, cars: int, seconds: float) -> dict:
    base = stored(db)
    per = -(-cars // PUBLISHERS)
    sent: list[int] = []
    threads = [
        threading.Thread(
            target=publish,
            args=(broker.port, range(p * per, min(cars, (p + 1) * per)), seconds, sent),
        )
        for p in range(PUBLISHERS)
        if p * per < cars
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published_at = time.perf_counter()
    total = sum(sent)
    while stored(db) - base < total and time.perf_counter() - published_at < 30:
        time.sleep(0.2)
    drain = time.perf_counter() - published_at
    got = stored(db) - base
    return {
        "cars": cars,
        "sent": total,
        "stored": got,
        "send_rate": round(total / (published_at - began), 1),
        "drain_s": round(drain, 2),
        "keeps_up": got >= total and drain <= KEEPS_UP_WITHIN,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [500, 2000] if args.quick else [500, 1000, 2000, 3000, 4000]
    seconds = 6 if args.quick else 15
    tmp = Path(tempfile.mkdtemp(prefix="recarga-bench-mqtt-"))
    broker = Mosquitto(tmp, extra_config="allow_anonymous true\nmax_queued_messages 100000")
    broker.start()
    db = create_pg_database("recarga_bench_mqtt")
    server = ServerProcess(
        "a", db, log_dir=tmp, RECARGA_MQTT_URL=broker.url, RECARGA_VALIDATE_RESPONSES="0"
    )
    rows = []
    try:
        server.start()
        time.sleep(1.0)
        for cars in sizes:
            row = run(broker, db, cars, seconds)
            rows.append(row)
            print(
                f"{cars:>5} cars: sent {row['sent']} at {row['send_rate']}/s, stored "
                f"{row['stored']}, drained {row['drain_s']} s after the last → "
                f"{'keeps up' if row['keeps_up'] else 'backlog'}",
                flush=True,
            )
    finally:
        server.stop()
        broker.kill()
        drop_pg_database(db)
    sustained = max((r["cars"] for r in rows if r["keeps_up"]), default=0)
    print(
        json.dumps(
            {
                "bench": "mqtt",
                "quick": args.quick,
                "seconds": seconds,
                "sustained_cars_1hz": sustained,
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
