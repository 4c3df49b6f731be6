"""Cars and stations over MQTT against real Mosquitto processes and real servers (SPEC §6)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
import uuid

import jsonschema
import pytest

from mqtt import payloads
from mqtt.rpc import CarLink
from tests.federation import BR101, Federation, at


@pytest.fixture(scope="module")
def fed(tmp_path_factory, broker):
    f = Federation(tmp_path_factory.mktemp("mqttfed"), RECARGA_MQTT_URL=broker.url)
    f.start()
    f.corridor = {
        place: f.add_station(company, place, connectors=2)
        for company, places in BR101.items()
        for place in places
    }
    yield f
    f.close()


@pytest.fixture
def car(broker):
    links = []

    def make(company="b", car_id=None):
        link = CarLink(
            broker.url, company, car_id or f"car-{uuid.uuid4().hex[:8]}"
        ).wait_connected()
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


def test_a_car_plans_and_books_a_multi_company_trip_over_mqtt(fed, car):
    link = car("b")
    plan = link.call(
        "plan",
        {
            "origin": "joao-pessoa",
            "destination": "feira-de-santana",
            "departure": at(24 * 60),
            "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
        },
    )
    assert plan["ok"], plan
    option = plan["body"]["options"][0]
    assert len({s["company"] for s in option["stops"]}) >= 2
    booked = link.call("book", {"legs": option["legs"]})
    assert booked["status"] == 201, booked
    booking_id = booked["body"]["booking_id"]
    fed.phase_two_done("b", booking_id)  # the commits go out after the answer
    for leg in option["legs"]:
        rows = [
            r
            for r in fed.reservations(leg["company"], booking_id)
            if r["connector_id"] == leg["connector_id"]
        ]
        assert [r["state"] for r in rows] == ["confirmed"]
    event = link.events.get(timeout=10)
    assert event["type"] == "booking_confirmed"
    got = link.call("get", {"booking_id": booking_id})
    assert got["body"]["state"] == "confirmed"


BAD = [
    (b"{not json", 400),
    (json.dumps({"request_id": "r1", "legs": "not-a-list"}).encode(), 400),
    (json.dumps({"legs": []}).encode(), 400),  # no request_id
    (json.dumps([1, 2, 3]).encode(), 400),
    (b"\xff\xfe", 400),
    (json.dumps({"request_id": "r2", "pad": "x" * 70_000}).encode(), 400),
    (b'{"request_id": "r3", "deep": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400),
    (b'{"request_id": "r4", "soc": NaN}', 400),
]


def conforms(reply: dict) -> dict:
    """Every response has the shape docs/mqtt.md documents (``payloads.RESPONSE``)."""
    jsonschema.validate(reply, payloads.RESPONSE)
    return reply


@pytest.mark.parametrize(
    "op",
    [
        "plan",
        "book",
        "choose",
        "cancel",
        "get",
        "charge_start",
        "charge_finish",
        "trip_finish",
        "fly-to-the-moon",
    ],
)
def test_malformed_requests_get_an_error_response_and_the_bridge_keeps_serving(fed, car, op):
    link = car("a")
    answers: queue.Queue = queue.Queue()
    link._waiting[b"bad"] = answers
    for payload, status in BAD:
        link.publish_raw(op, payload, b"bad")
        reply = conforms(answers.get(timeout=10))
        assert reply["ok"] is False and reply["status"] == status, (op, payload[:40], reply)
        assert reply["error"]["detail"]
    wrong_op = link.call(op, {"booking_id": "bk-none"} if op != "plan" else {"origin": "x"})
    assert wrong_op["ok"] is False and wrong_op["status"] in (400, 404)
    # still serving
    assert link.call("get", {"booking_id": "bk-unknown"})["status"] == 404


def test_a_station_last_will_tells_every_car_with_a_future_window_there(fed, car, broker):
    link = car("a")
    station = fed.corridor["recife"]
    fed.add_station("b", "recife")  # somewhere else to go
    booked = link.call(
        "book",
        {
            "legs": [
                {
                    "company": "a",
                    "station_id": station["id"],
                    "connector_id": station["connectors"][1]["id"],
                    "start": at(3000),
                    "end": at(3030),
                }
            ]
        },
    )
    assert booked["status"] == 201, booked
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carsim.station",
            "--url",
            broker.url,
            "--company",
            "a",
            "--station",
            station["id"],
        ]
    )
    try:
        time.sleep(1.0)  # birth, retained 'available'
        proc.kill()  # no DISCONNECT: the broker publishes the Last Will
        proc.wait()
        event = link.events.get(timeout=15)
        while event["type"] != "station_offline":
            event = link.events.get(timeout=15)
        assert event["station_id"] == station["id"]
        assert event["booking_id"] == booked["body"]["booking_id"]
        assert event["replan"]["alternatives"], event
        assert all(a["station_id"] != station["id"] for a in event["replan"]["alternatives"])
    finally:
        if proc.poll() is None:
            proc.kill()


def _read_until(proc, text: str, timeout: float = 60) -> str:
    import os
    import select

    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"never printed {text!r}: {seen}"
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096).decode()
            assert chunk, f"exited before {text!r}: {seen}"
            seen += chunk
    return seen


def test_a_person_drives_with_the_cli_through_a_conflict_to_a_booking(fed, broker, car):
    """`recarga drive`: plan, table, choose, a taken stop, pick an alternative, cancel."""
    trip = {
        "origin": "joao-pessoa",
        "destination": "maceio",
        "departure": at(48 * 60),
        "vehicle": {"model_id": "byd-dolphin", "soc": 0.5, "profile": "highway"},
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recarga.cli",
            "drive",
            "--url",
            broker.url,
            "--company",
            "b",
            "--car",
            "car-person",
            "--from",
            "joao-pessoa",
            "--to",
            "maceio",
            "--soc",
            "0.5",
            "--profile",
            "highway",
            "--departure",
            trip["departure"],
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out = _read_until(proc, "option to book")
        assert "fastest" in out
        # someone else takes the first stop's connector of the option the driver is about to
        # choose (its twin stays free: the one alternative that keeps the trip on time)
        other = car("c")
        first = other.call("plan", trip)["body"]["options"][0]["legs"][0]
        taken = other.call("book", {"legs": [first]})
        assert taken["status"] == 201, taken
        proc.stdin.write(b"1\n")
        proc.stdin.flush()
        out = _read_until(proc, "alternative for leg")
        assert "conflict:" in out and "held until" in out
        assert f"1. {first['company']} {first['station_id']} {first['start'][11:16]}" in out, out
        proc.stdin.write(b"1\n")
        proc.stdin.flush()
        out = _read_until(proc, "c to cancel it")
        assert "is confirmed" in out
        proc.stdin.write(b"c\n")
        proc.stdin.flush()
        rest = proc.communicate(timeout=60)[0].decode()
        assert "is cancelled" in rest and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("car_id", ["bad car!", "x" * 65])
def test_a_car_id_the_contract_refuses_gets_a_400_and_nothing_is_written(fed, car, car_id):
    link = car("a", car_id=car_id)
    reply = conforms(
        link.call(
            "book",
            {
                "legs": [
                    {
                        "company": "a",
                        "station_id": fed.corridor["recife"]["id"],
                        "connector_id": fed.corridor["recife"]["connectors"][0]["id"],
                        "start": at(3000),
                        "end": at(3030),
                    }
                ]
            },
            retries=0,
            timeout=10,
        )
    )
    assert reply["status"] == 400 and "car id" in reply["error"]["detail"]
    assert (
        fed.rows("a", "SELECT count(*) AS n FROM coordinator_tx WHERE car_id = %s", car_id)[0]["n"]
        == 0
    )
    assert conforms(car("a").call("get", {"booking_id": "bk-unknown"}))["status"] == 404


def test_a_conflict_over_mqtt_has_the_documented_shape(fed, car):
    station = fed.corridor["maceio"]
    legs = [
        {
            "company": "b",
            "station_id": station["id"],
            "connector_id": station["connectors"][0]["id"],
            "start": at(4000),
            "end": at(4030),
        }
    ]
    assert conforms(car("b").call("book", {"legs": legs}))["status"] == 201
    reply = conforms(car("b").call("book", {"legs": legs}))
    assert reply["status"] == 409 and reply["ok"] is False
    assert reply["error"]["conflicts"][0]["leg_index"] == 0
    assert reply["error"]["state"] == "aborted"


def test_a_plan_from_the_past_is_refused_over_mqtt_as_over_rest(fed, car):
    link = car("a")
    past = link.call(
        "plan",
        {
            "origin": "joao-pessoa",
            "destination": "recife",
            "departure": at(-3 * 24 * 60),
            "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
        },
    )
    assert past["status"] == 422 and "in the past" in past["error"]["detail"], past
    now = link.call(
        "plan",
        {
            "origin": "joao-pessoa",
            "destination": "recife",
            "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
        },
    )
    assert now["status"] == 200 and now["body"]["departure"], now
