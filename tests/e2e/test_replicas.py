"""A company is a set of processes (SPEC §4, "Many processes"): company A runs as two
processes on one PostgreSQL database, B and C as one each, all real servers.

* a process that restarts leaves the other's live booking alone (its lease is renewed while
  it works; recovery takes over only an expired lease or a dead process's work);
* a process killed with decisions it had not delivered loses none: the other delivers them;
* one process is told what another changed in its memory (a peer's new station, a revoked
  driver credential) within seconds;
* a car's booking retried over MQTT and handed by the broker to the other process is not
  booked twice.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mqtt.rpc import CarLink
from tests.federation import REGISTRATION, Federation, leg
from tests.support import ServerProcess


@pytest.fixture(scope="module")
def fed(tmp_path_factory, broker):
    tmp = tmp_path_factory.mktemp("replicas")
    f = Federation(tmp, RECARGA_MQTT_URL=broker.url).start()
    a = f.servers["a"]
    # the second process of company A: same database, same tokens, its own port and replica
    f.a2 = ServerProcess(
        "a",
        f.db_urls["a"],
        log_dir=tmp,
        **{
            k: v
            for k, v in a.env.items()
            if k.startswith("RECARGA_")
            and k
            not in (
                "RECARGA_PORT",
                "RECARGA_PUBLIC_URL",
                "RECARGA_COMPANY",
                "RECARGA_DATABASE_URL",
                "RECARGA_ADMIN_TOKEN",
                "RECARGA_TEST_FAULTS",
            )
        },
        RECARGA_REPLICA="2",
        RECARGA_TEST_FAULTS="before_decision@car-paused,phase_two@car-undelivered",
    )
    f.a2.start()
    f.stations = {
        c: f.add_station(c, place)
        for c, place in (("a", "recife"), ("b", "maceio"), ("c", "aracaju"))
    }
    yield f
    f.a2.kill()
    f.close()


def _legs(fed, start: float) -> list[dict]:
    return [
        leg(fed.stations["a"], start, start + 30),
        leg(fed.stations["b"], start + 200, start + 230),
        leg(fed.stations["c"], start + 400, start + 430),
    ]


def _swept_after(fed, servers, moment: float, sweeps: int = 2) -> bool:
    """Whether the process leading company A's recovery has swept ``sweeps`` times since
    ``moment`` (time.time())."""
    interval = float(fed.servers["a"].env["RECARGA_RECOVERY_INTERVAL"])
    for server in servers:
        view = httpx.get(f"{server.api}/monitor/federation", headers=server.admin).json()
        sweep = view["recovery"]["last_sweep"] or {}
        if sweep.get("standby") is False and sweep.get("at"):
            swept_at = datetime.fromisoformat(sweep["at"].replace("Z", "+00:00")).timestamp()
            if swept_at >= moment + sweeps * interval:
                return True
    return False


def test_a_restarting_process_leaves_the_other_process_s_live_booking_alone(fed):
    a1 = fed.servers["a"]
    legs = _legs(fed, 600)
    answer: dict = {}

    def book():
        answer["r"] = httpx.post(
            f"{fed.a2.api}/bookings",
            headers=fed.driver["a"],
            timeout=60,
            json={"car_id": "car-paused", "legs": legs},
        )

    booking = threading.Thread(target=book)
    booking.start()
    fed.wait_reached("before_decision@car-paused")
    for company in "abc":  # every leg held, the decision not taken yet
        assert [r["state"] for r in fed.reservations(company) if r["car_id"] == "car-paused"] == [
            "held"
        ]
    fed.restart("a")  # A1: kill -9, then start again
    restarted = time.time()
    fed.eventually(
        lambda: _swept_after(fed, [a1, fed.a2], restarted),
        30,
        what="a recovery sweep of company A after the restart",
    )
    fed.release("before_decision@car-paused")
    booking.join(60)
    assert answer["r"].status_code == 201, answer["r"].text
    booking_id = answer["r"].json()["booking_id"]
    fed.phase_two_done("a", booking_id)
    for company in "abc":
        assert [r["state"] for r in fed.reservations(company, booking_id)] == ["confirmed"]
    for server in (a1, fed.a2):
        assert "presumed abort" not in server.log_tail(400)


def test_a_process_killed_with_undelivered_decisions_loses_none(fed):
    legs = _legs(fed, 1600)
    r = httpx.post(
        f"{fed.a2.api}/bookings",
        headers=fed.driver["a"],
        timeout=60,
        json={"car_id": "car-undelivered", "legs": legs},
    )
    assert r.status_code == 201, r.text  # the decision is logged; its commits are not sent
    booking_id = r.json()["booking_id"]
    fed.wait_reached("phase_two@car-undelivered")
    for company in "bc":
        assert [x["state"] for x in fed.reservations(company, booking_id)] == ["held"]
    fed.a2.kill()
    try:
        # A1 finds the decision in the database, its process dead, and delivers it
        fed.phase_two_done("a", booking_id, timeout=40)
        for company in "abc":
            assert [x["state"] for x in fed.reservations(company, booking_id)] == ["confirmed"]
    finally:
        fed.a2.env["RECARGA_TEST_FAULTS"] = ""
        fed.a2.start()


def test_a_peer_s_new_station_reaches_both_processes_within_seconds(fed):
    # B tells A1 (the URL it registered) that its catalog changed; A2 hears it from A1
    # through the database, not from B and not at its next periodic round (30 s)
    station = fed.add_station("b", "propria")
    began = time.monotonic()

    def known(server) -> bool:
        view = httpx.get(f"{server.api}/monitor/stations", headers=server.admin).json()
        return any(s["id"] == station["id"] for s in view["stations"])

    for server in (fed.servers["a"], fed.a2):
        fed.eventually(
            lambda server=server: known(server),
            10,
            what=f"{station['id']} in {server.url}'s copy of B's catalog",
        )
    assert time.monotonic() - began < 10


def test_a_peer_registered_at_one_process_is_known_to_the_other_at_once(fed):
    handshake = httpx.post(
        f"{fed.servers['a'].api}/peers",
        json={"company": "late", "url": "http://127.0.0.1:9", "token": "l" * 32},
        headers={"Authorization": f"Bearer {REGISTRATION}"},
    )
    assert handshake.status_code == 201, handshake.text
    token = {"Authorization": f"Bearer {handshake.json()['token']}"}
    # the new peer's token opens the other process too, within a moment
    fed.eventually(
        lambda: httpx.get(f"{fed.a2.api}/transactions/tx-none", headers=token).status_code == 404,
        5,
        what="the new peer's token at the other process",
    )


def test_a_driver_revoked_at_one_process_is_refused_by_both_at_once(fed):
    a1, a2 = fed.servers["a"], fed.a2
    issued = httpx.post(f"{a1.api}/drivers", headers=a1.admin, json={"name": "leaked phone"})
    assert issued.status_code == 201, issued.text
    token = {"Authorization": f"Bearer {issued.json()['token']}"}
    for server in (a1, a2):  # known to both (each keeps the tokens it has seen in memory)
        assert httpx.get(f"{server.api}/bookings/bk-none", headers=token).status_code == 404
    driver_id = issued.json()["driver_id"]
    assert httpx.delete(f"{a1.api}/drivers/{driver_id}", headers=a1.admin).status_code == 204
    assert httpx.get(f"{a1.api}/bookings/bk-none", headers=token).status_code == 401
    began = time.monotonic()
    fed.eventually(
        lambda: httpx.get(f"{a2.api}/bookings/bk-none", headers=token).status_code == 401,
        5,
        what="the revoked token refused by the other process",
    )
    assert time.monotonic() - began < 1.0
    listed = httpx.get(f"{a2.api}/drivers", headers=a2.admin).json()["items"]
    [mine] = [d for d in listed if d["driver_id"] == driver_id]
    assert mine["revoked_at"] and "token" not in mine
    assert httpx.delete(f"{a2.api}/drivers/{driver_id}", headers=a2.admin).status_code == 204
    assert httpx.delete(f"{a2.api}/drivers/drv-none", headers=a2.admin).status_code == 404


def test_a_driver_token_rotated_at_one_process_is_refused_by_both_and_the_new_one_works(fed):
    """Rotation: the same driver, its bookings still its own, a new token; the old token is
    refused by both processes at once."""
    a1, a2 = fed.servers["a"], fed.a2
    issued = httpx.post(f"{a1.api}/drivers", headers=a1.admin, json={"name": "Ana's phone"})
    old = {"Authorization": f"Bearer {issued.json()['token']}"}
    driver_id = issued.json()["driver_id"]
    station = httpx.get(f"{a1.api}/stations", params={"limit": 1}).json()["items"][0]
    booked = httpx.post(
        f"{a1.api}/bookings",
        headers=old,
        json={"car_id": "car-ana", "legs": [leg(station, 400, 430)]},
    )
    assert booked.status_code == 201, booked.text
    booking = f"/bookings/{booked.json()['booking_id']}"
    for server in (a1, a2):
        assert httpx.get(f"{server.api}{booking}", headers=old).status_code == 200
    rotated = httpx.post(f"{a2.api}/drivers/{driver_id}/token", headers=a2.admin)
    assert rotated.status_code == 201, rotated.text
    new = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert rotated.json()["driver_id"] == driver_id and new != old
    assert httpx.get(f"{a2.api}{booking}", headers=old).status_code == 401
    fed.eventually(
        lambda: httpx.get(f"{a1.api}{booking}", headers=old).status_code == 401,
        1,
        what="the replaced token refused by the other process",
    )
    for server in (a1, a2):
        mine = httpx.get(f"{server.api}{booking}", headers=new)
        assert mine.status_code == 200 and mine.json()["car_id"] == "car-ana"
    assert httpx.delete(f"{a1.api}/drivers/{driver_id}", headers=a1.admin).status_code == 204
    again = httpx.post(f"{a1.api}/drivers/{driver_id}/token", headers=a1.admin)
    assert again.status_code == 409, again.text
    assert httpx.post(f"{a1.api}/drivers/drv-none/token", headers=a1.admin).status_code == 404


def test_a_driver_credential_expires(fed):
    a1, a2 = fed.servers["a"], fed.a2
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    issued = httpx.post(
        f"{a1.api}/drivers", headers=a1.admin, json={"name": "rental car", "expires_at": soon}
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["expires_at"] is not None
    token = {"Authorization": f"Bearer {issued.json()['token']}"}
    for server in (a1, a2):  # valid until then, and known to both processes' memory
        assert httpx.get(f"{server.api}/bookings/bk-none", headers=token).status_code == 404
    expiry = datetime.fromisoformat(issued.json()["expires_at"].replace("Z", "+00:00"))
    while datetime.now(UTC) <= expiry:
        time.sleep(0.05)
    for server in (a1, a2):
        assert httpx.get(f"{server.api}/bookings/bk-none", headers=token).status_code == 401
    past = httpx.post(
        f"{a1.api}/drivers",
        headers=a1.admin,
        json={"name": "late", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert past.status_code == 422, past.text
    listed = httpx.get(f"{a2.api}/drivers", headers=a2.admin).json()["items"]
    [mine] = [d for d in listed if d["driver_id"] == issued.json()["driver_id"]]
    assert mine["expires_at"] == issued.json()["expires_at"] and mine["revoked_at"] is None


def test_a_car_s_retried_booking_handed_to_the_other_process_is_not_booked_twice(fed, broker):
    link = CarLink(broker.url, "a", "car-retrier").wait_connected()
    try:
        answers = [
            link.call(
                "book", {"legs": _legs(fed, 2600)}, request_id="retry-me", retries=0, timeout=30
            )
            for _ in range(4)
        ]
    finally:
        link.close()
    # the broker shares the requests between A's two processes: the retries reach both
    assert {a["status"] for a in answers} == {201}, answers
    assert len({a["body"]["booking_id"] for a in answers}) == 1
    rows = fed.rows(
        "a", "SELECT count(*) AS n FROM coordinator_tx WHERE car_id = %s", "car-retrier"
    )
    assert rows[0]["n"] == 1
    servers = {a["server"] for a in answers}
    assert len(servers) == 2, servers  # both processes answered it
