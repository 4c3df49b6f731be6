"""A booking over MQTT that a silent company makes impossible is answered 503 with the same
retry hint REST gives in its Retry-After header (docs/mqtt.md, Responses)."""

from __future__ import annotations

import pytest

from booking.errors import PeerUnavailable
from mqtt.rpc import CarLink
from tests.federation import Federation, leg


@pytest.fixture
def fed(tmp_path, broker):
    f = Federation(
        tmp_path,
        companies=("a", "c"),
        faults={"c": "prepare@car-silent"},
        RECARGA_MQTT_URL=broker.url,
    ).start()
    f.stations = {c: f.add_station(c, place) for c, place in (("a", "recife"), ("c", "aracaju"))}
    yield f
    f.release("prepare@car-silent")
    f.close()


def test_a_503_over_mqtt_says_when_to_try_again(fed, broker):
    car = CarLink(broker.url, "a", "car-silent", clean=True).wait_connected()
    try:
        s = fed.stations
        answer = car.call(
            "book", {"legs": [leg(s["a"], 300, 330), leg(s["c"], 600, 630)]}, timeout=15, retries=0
        )
    finally:
        car.close()
    assert answer["status"] == 503 and not answer["ok"], answer
    assert answer["retry_after"] == PeerUnavailable.retry_after == 5
    rest = fed.http.get(f"{fed.api('a')}/bookings", headers=fed.servers["a"].admin).json()
    assert [b["state"] for b in rest["items"]] == ["aborted"]  # nothing held for nobody
