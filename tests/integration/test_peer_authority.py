"""A peer acts only on what is its own (SPEC §5): a preemption notice only from the company
holding that leg, for that leg; a transaction's view only for its coordinator and its
participants. Three real servers on PostgreSQL and a fourth registered peer with no leg.
"""

from __future__ import annotations

import pytest

from tests.federation import REGISTRATION, Federation, leg


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    f = Federation(tmp_path_factory.mktemp("authority"), in_process=True).start()
    f.stations = {
        c: f.add_station(c, place)
        for c, place in (("a", "recife"), ("b", "maceio"), ("c", "aracaju"))
    }
    yield f
    f.close()


def _peer_token(fed, at: str, company: str) -> dict:
    """The token ``company`` presents at ``at`` (a handshake with the registration secret, or
    the one the federation's own handshake gave it)."""
    if company in fed.servers:
        [row] = fed.rows(company, "SELECT token_out FROM peer WHERE company = %s", at)
        return {"Authorization": f"Bearer {row['token_out']}"}
    r = fed.http.post(
        f"{fed.api(at)}/peers",
        json={"company": company, "url": "http://127.0.0.1:9", "token": "m" * 32},
        headers={"Authorization": f"Bearer {REGISTRATION}"},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def held(fed):
    """A hold-mode booking at A: its legs at A and B held, its leg at C refused (taken)."""
    s = fed.stations
    legs = [leg(s["a"], 60, 90), leg(s["b"], 300, 330), leg(s["c"], 600, 630)]
    taken = fed.book("c", {"car_id": "car-first", "legs": [legs[2]]})
    assert taken.status_code == 201, taken.text
    r = fed.book("a", {"car_id": "car-held", "legs": legs, "mode": "hold"})
    assert r.status_code == 409 and r.json()["state"] == "held", r.text
    booking_id = r.json()["booking_id"]
    [tx] = fed.rows("a", "SELECT tx_id FROM coordinator_tx WHERE booking_id = %s", booking_id)
    return {"booking_id": booking_id, "tx_id": tx["tx_id"]}


def _booking(fed, held) -> dict:
    return fed.http.get(
        f"{fed.api('a')}/bookings/{held['booking_id']}", headers=fed.driver["a"]
    ).json()


def test_a_peer_with_no_leg_cannot_preempt_any_leg(fed, held):
    mallory = _peer_token(fed, "a", "mallory")
    for legs in ([0], [1], [2]):
        r = fed.http.post(
            f"{fed.api('a')}/transactions/{held['tx_id']}/abort",
            headers=mallory,
            json={"reason": "preempt", "legs": legs, "detail": "mallory was here"},
        )
        assert r.status_code == 409, r.text
    booking = _booking(fed, held)
    assert booking["state"] == "held"
    assert [x["state"] for x in booking["legs"]][:2] == ["held", "held"]
    assert "mallory" not in str(booking)


def test_a_participant_preempts_only_the_leg_it_holds(fed, held):
    b = _peer_token(fed, "a", "b")
    r = fed.http.post(
        f"{fed.api('a')}/transactions/{held['tx_id']}/abort",
        headers=b,
        json={"reason": "preempt", "legs": [0], "detail": "not b's leg"},
    )
    assert r.status_code == 409, r.text
    assert _booking(fed, held)["legs"][0]["state"] == "held"
    r = fed.http.post(
        f"{fed.api('a')}/transactions/{held['tx_id']}/abort",
        headers=b,
        json={"reason": "preempt", "legs": [1], "detail": "taken at b"},
    )
    assert r.status_code == 200, r.text  # its own leg: granted
    assert _booking(fed, held)["legs"][1]["state"] == "preempted"


def test_a_transaction_is_seen_only_by_its_coordinator_and_participants(fed, held):
    tx = held["tx_id"]
    mallory = _peer_token(fed, "a", "mallory2")
    assert fed.http.get(f"{fed.api('a')}/transactions/{tx}", headers=mallory).status_code == 404
    view = fed.http.get(f"{fed.api('a')}/transactions/{tx}", headers=_peer_token(fed, "a", "c"))
    assert view.status_code == 200 and view.json()["role"] == "coordinator"
    # at a participant, only the coordinator sees its record
    assert (
        fed.http.get(
            f"{fed.api('b')}/transactions/{tx}", headers=_peer_token(fed, "b", "a")
        ).status_code
        == 200
    )
    assert (
        fed.http.get(
            f"{fed.api('b')}/transactions/{tx}", headers=_peer_token(fed, "b", "c")
        ).status_code
        == 404
    )


def test_a_driver_lists_only_their_own_bookings_newest_first_with_live_states(fed):
    """GET /bookings: a driver's own bookings survive a closed page; another driver sees none
    of them, the admin sees every booking coordinated here; pages are newest first."""
    s = fed.stations
    mine = fed.issue_driver("a", "lister")
    other = fed.issue_driver("a", "someone else")
    made = []
    for n in range(3):
        r = fed.http.post(
            f"{fed.api('a')}/bookings",
            headers=mine,
            json={
                "car_id": "car-lister",
                "legs": [
                    leg(s["a"], 2000 + 60 * n, 2020 + 60 * n),
                    leg(s["b"], 2300 + 60 * n, 2320 + 60 * n),
                ],
            },
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["booking_id"])
    cancelled = fed.http.delete(f"{fed.api('a')}/bookings/{made[0]}", headers=mine)
    assert cancelled.status_code == 200, cancelled.text
    page = fed.http.get(f"{fed.api('a')}/bookings", headers=mine, params={"limit": 2}).json()
    assert page["total"] == 3 and page["limit"] == 2
    assert [b["booking_id"] for b in page["items"]] == [made[2], made[1]]
    rest = fed.http.get(
        f"{fed.api('a')}/bookings", headers=mine, params={"limit": 2, "offset": 2}
    ).json()
    assert [b["booking_id"] for b in rest["items"]] == [made[0]]
    # each as GET /bookings/{id} shows it, legs at both companies included
    for b in page["items"] + rest["items"]:
        one = fed.http.get(f"{fed.api('a')}/bookings/{b['booking_id']}", headers=mine).json()
        assert b == one
    assert rest["items"][0]["state"] == "cancelled"
    assert all(leg_["state"] == "cancelled" for leg_ in rest["items"][0]["legs"])
    assert fed.http.get(f"{fed.api('a')}/bookings", headers=other).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }
    every = fed.http.get(
        f"{fed.api('a')}/bookings", headers=fed.servers["a"].admin, params={"limit": 50}
    ).json()
    assert set(made) <= {b["booking_id"] for b in every["items"]}
    assert fed.http.get(f"{fed.api('a')}/bookings").status_code == 401
