"""A car charges only inside its window (booking/session.py), against real servers, a real
broker and the world's clock of the demo: a session started too early is refused, one finished
without a start is refused, one started within the grace charges and completes, a window not
started in time becomes a no-show — each answered over MQTT with a reason, nothing changed, and
each seen through REST (`GET /bookings/{id}`) exactly as it happened.

The servers run on a demo clock (RECARGA_DEMO_CLOCK): a day behind real time, 300 times faster,
so the quarter of an hour of a grace passes in three real seconds."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from booking.clock import clock_from
from mqtt.rpc import CarLink
from tests.federation import Federation

SPEED = 300


@pytest.fixture(scope="module")
def fed(tmp_path_factory, broker):
    clock = f"{time.time():.3f}@{SPEED}-86400"  # a day behind: fast for the next 289 s
    f = Federation(
        tmp_path_factory.mktemp("charging"),
        companies=("a", "b"),
        RECARGA_MQTT_URL=broker.url,
        RECARGA_DEMO_CLOCK=clock,
        RECARGA_RECOVERY_INTERVAL="0.2",
    )
    f.world = clock_from(clock)
    f.start()
    f.station = f.add_station("a", "recife", connectors=4)
    yield f
    f.close()


def _iso(when) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _book(fed, car: str, connector: int, starts_in: timedelta) -> dict:
    start = (fed.world.now() + starts_in).replace(microsecond=0)
    leg = {
        "company": "a",
        "station_id": fed.station["id"],
        "connector_id": fed.station["connectors"][connector]["id"],
        "start": _iso(start),
        "end": _iso(start + timedelta(minutes=40)),
    }
    r = httpx.post(
        f"{fed.api('b')}/bookings",
        headers=fed.driver["b"],
        timeout=30,
        json={"car_id": car, "legs": [leg]},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _leg_state(fed, booking: dict) -> str:
    r = httpx.get(
        f"{fed.api('b')}/bookings/{booking['booking_id']}", headers=fed.driver["b"], timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["legs"][0]["state"]


@pytest.fixture
def car(broker):
    links = []

    def make(car_id: str) -> CarLink:
        link = CarLink(broker.url, "a", car_id).wait_connected()  # at the station's company
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


def _charge(link: CarLink, op: str, booking: dict) -> dict:
    return link.call(
        op,
        {"booking_id": booking["booking_id"], "connector_id": booking["legs"][0]["connector_id"]},
    )


def test_a_session_started_hours_early_or_finished_unstarted_is_refused(fed, car):
    booking = _book(fed, "car-early", 0, timedelta(hours=3))
    link = car("car-early")
    early = _charge(link, "charge_start", booking)
    assert early["status"] == 409 and "too early" in early["error"]["detail"], early
    unstarted = _charge(link, "charge_finish", booking)
    assert unstarted["status"] == 409 and "never started" in unstarted["error"]["detail"]
    assert _leg_state(fed, booking) == "confirmed"  # nothing changed


def test_a_session_started_within_the_grace_charges_and_completes(fed, car):
    booking = _book(fed, "car-on-time", 1, timedelta(minutes=10))  # 10 min ≤ the 15 early
    link = car("car-on-time")
    started = _charge(link, "charge_start", booking)
    # the car may be faster than phase two: the station's company then asks the coordinator
    assert started["status"] == 200 and started["body"]["state"] == "charging", str(started)
    assert _leg_state(fed, booking) == "charging"
    finished = _charge(link, "charge_finish", booking)
    assert finished["status"] == 200 and finished["body"]["state"] == "completed", finished
    r = httpx.get(f"{fed.api('b')}/bookings/{booking['booking_id']}", headers=fed.driver["b"])
    assert r.json()["state"] == "completed" and r.json()["legs"][0]["state"] == "completed"


def test_a_window_not_started_in_its_grace_is_a_no_show_and_cannot_start(fed, car):
    booking = _book(fed, "car-late", 2, timedelta(minutes=2))
    # 2 + 15 world minutes: under 4 real seconds at 300×; the recovery worker marks it
    fed.eventually(
        lambda: _leg_state(fed, booking) == "no_show", timeout=30, what="the window marked no-show"
    )
    late = _charge(car("car-late"), "charge_start", booking)
    assert late["status"] == 409 and "no_show" in late["error"]["detail"], late
    assert _leg_state(fed, booking) == "no_show"
    # the connector is free again for the rest of the window
    r = httpx.get(
        f"{fed.api('a')}/stations/{fed.station['id']}/availability",
        params={"from": booking["legs"][0]["start"], "to": booking["legs"][0]["end"]},
    )
    [busy] = [
        c["busy"]
        for c in r.json()["connectors"]
        if c["connector_id"] == booking["legs"][0]["connector_id"]
    ]
    assert busy == []
