"""Federation acceptance: three companies, each on its own PostgreSQL database (SPEC §4), in
this process (``tests.inprocess``: the real apps, databases and workers, no sockets)."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.federation import BR101, Federation, at, leg

VEHICLE = {"model_id": "byd-dolphin", "soc": 0.8}


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    federation = Federation(
        tmp_path_factory.mktemp("fed"),
        # the priority test pauses these cars' prepares at chosen companies (once each)
        faults={"b": "prepare@car-y,prepare@car-y2", "c": "prepare@car-x,prepare@car-x2"},
        in_process=True,
        RECARGA_PREPARE_TIMEOUT="5",
    )  # the production default: bursts of 100 clients are slow
    federation.start()
    yield federation
    federation.close()


@pytest.fixture(scope="module")
def corridor(fed):
    """One 150 kW station per BR-101 town: companies A north, B middle, C south."""
    return {
        place: fed.add_station(company, place, connectors=2)
        for company, places in BR101.items()
        for place in places
    }


def test_peers_are_listed_as_reachable(fed):
    r = fed.http.get(f"{fed.api('a')}/peers", headers=fed.servers["a"].admin)
    assert r.status_code == 200
    assert {(p["company"], p["reachable"]) for p in r.json()["items"]} == {("b", True), ("c", True)}


def test_seed_trip_booked_at_b_holds_one_confirmed_leg_at_each_company(fed, corridor):
    plan = fed.plan(
        "b",
        {
            "origin": "joao-pessoa",
            "destination": "feira-de-santana",
            "departure": corridor["recife"] and _departure(),
            "vehicle": VEHICLE,
            "options": 3,
        },
    )
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["companies_asked"] == ["b", "a", "c"] or set(body["companies_asked"]) == set("abc")
    assert body["companies_missing"] == []
    option = next(o for o in body["options"] if {s["company"] for s in o["stops"]} >= set("abc"))
    # one leg at each company: the first stop each company offers on the plan
    legs, seen = [], set()
    for stop_leg in option["legs"]:
        if stop_leg["company"] not in seen:
            seen.add(stop_leg["company"])
            legs.append(stop_leg)
    r = fed.book("b", {"car_id": "car-seed", "legs": legs}, timeout=30)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["state"] == "confirmed" and booking["coordinator"] == "b"
    fed.phase_two_done("b", booking["booking_id"])  # the commits go out after the answer
    for company in "abc":
        rows = fed.reservations(company, booking["booking_id"])
        assert [(x["company_leg"], x["state"]) for x in _mine(rows, legs, company)] == [
            (company, "confirmed")
        ], rows
    assert (
        fed.http.get(
            f"{fed.api('b')}/bookings/{booking['booking_id']}", headers=fed.driver["b"]
        ).json()["state"]
        == "confirmed"
    )


def _departure():
    from tests.federation import at

    return at(0)


def _mine(rows, legs, company):
    out = []
    for row in rows:
        wanted = [lg for lg in legs if lg["connector_id"] == row["connector_id"]]
        if wanted:
            out.append({"company_leg": wanted[0]["company"], "state": row["state"]})
    assert all(r["company_leg"] == company for r in out)
    return out


def test_hundred_concurrent_clients_leave_no_overlap_and_no_partial_booking(fed, corridor):
    rng = random.Random(7)
    picks = [
        ("recife", "maceio", "aracaju"),
        ("palmares", "propria", "estancia"),
        ("goiana", "maceio", "aracaju"),
    ]

    def one(i):
        route = rng.choice(picks)
        offset = rng.choice([0, 15, 40, 55, 80, 95, 120])  # overlapping and not
        legs = [
            leg(
                corridor[place],
                2000 + k * 300 + offset,
                2030 + k * 300 + offset,
                connector=rng.randint(0, 1),
            )
            for k, place in enumerate(route)
        ]
        if rng.random() < 0.3:
            legs = legs[:2]
        coordinator = rng.choice("abc")
        r = fed.http.post(
            f"{fed.api(coordinator)}/bookings",
            headers=fed.driver[coordinator],
            timeout=60,
            json={"car_id": f"race-{i}", "legs": legs},
        )
        return r.status_code, r.json(), legs

    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(one, range(100)))
    statuses = [s for s, _, _ in results]
    print({s: statuses.count(s) for s in set(statuses)})
    print([b.get("detail") for s, b, _ in results if s == 503][:5])
    assert set(statuses) <= {201, 409, 503}, statuses
    assert statuses.count(201) >= 5
    # nothing left held once every decision has been delivered
    fed.eventually(
        lambda: all(
            not [r for r in fed.reservations(c, active=True) if r["state"] == "held"] for c in "abc"
        ),
        what="holds to be resolved",
    )
    for company in "abc":
        assert fed.overlaps(company) == []
    for status, body, legs in results:
        per_company = {c: fed.reservations(c, body["booking_id"], active=True) for c in "abc"}
        active = sum(len(v) for v in per_company.values())
        if status == 201:
            assert active == len(legs)
            assert all(r["state"] == "confirmed" for v in per_company.values() for r in v)
        else:
            assert active == 0, (status, body, per_company)


def _book_async(http, url, body, out, key, headers=None):
    def run():
        out[key] = http.post(url, json=body, timeout=60, headers=headers)

    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("mode,x,y", [("default", "car-x", "car-y"), ("hold", "car-x2", "car-y2")])
def test_earlier_priority_takes_a_window_a_later_booking_only_holds(fed, corridor, mode, x, y):
    """X holds its first leg before Y; Y's prepare reaches C first; X still wins at C."""
    base = 4000 if mode == "default" else 5000
    contested = leg(corridor["aracaju"], base + 600, base + 630, connector=0)
    out: dict = {}
    tx = _book_async(
        fed.http,
        f"{fed.api('a')}/bookings",
        headers=fed.driver["a"],
        body={"car_id": x, "legs": [leg(corridor["recife"], base + 60, base + 90), contested]},
        out=out,
        key="x",
    )
    fed.wait_reached(f"prepare@{x}")  # X's prepare at C is paused; its leg at A is held
    fed.eventually(
        lambda: [r for r in fed.reservations("a", active=True) if r["car_id"] == x],
        what="X's first leg held",
    )
    ty = _book_async(
        fed.http,
        f"{fed.api('b')}/bookings",
        headers=fed.driver["b"],
        body={
            "car_id": y,
            "mode": mode,
            "legs": [leg(corridor["maceio"], base + 300, base + 330), contested],
        },
        out=out,
        key="y",
    )
    fed.wait_reached(f"prepare@{y}")  # Y's prepare at B is paused, so Y cannot decide
    fed.eventually(
        lambda: [r for r in fed.reservations("c", active=True) if r["car_id"] == y],
        what="Y's hold at C (Y reached C first)",
    )
    fed.release(f"prepare@{x}")
    tx.join(30)
    assert out["x"].status_code == 201, out["x"].text
    fed.phase_two_done("a", out["x"].json()["booking_id"])
    fed.release(f"prepare@{y}")
    ty.join(30)
    refused = out["y"]
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    [conflict] = problem["conflicts"]
    assert conflict["leg_index"] == 1 and conflict["state"] == "preempted"
    alternatives = conflict["alternatives"]
    assert alternatives and all(
        a["connector_id"] != contested["connector_id"] or a["start"] != contested["start"]
        for a in alternatives
    )
    x_rows = [r for r in fed.reservations("c", active=True) if r["car_id"] == x]
    assert [r["state"] for r in x_rows] == ["confirmed"]
    if mode == "default":
        assert problem["state"] == "aborted"
        fed.eventually(
            lambda: (
                not any(r["car_id"] == y for c in "abc" for r in fed.reservations(c, active=True))
            ),
            what="Y released everywhere",
        )
        return
    # hold mode: Y's leg at B stays held while Y replaces the lost leg, then Y confirms
    assert problem["state"] == "held" and problem["hold_expires_at"]
    assert [r["state"] for r in fed.reservations("b", active=True) if r["car_id"] == y] == ["held"]
    choice = next(a for a in alternatives if a["company"] == "c")
    r = fed.http.patch(
        f"{fed.api('b')}/bookings/{problem['booking_id']}",
        headers=fed.driver["b"],
        timeout=30,
        json={
            "legs": [
                {
                    "leg_index": 1,
                    **{
                        k: choice[k]
                        for k in ("company", "station_id", "connector_id", "start", "end")
                    },
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "confirmed"
    assert r.json()["priority_at"] == problem_priority(fed, problem["booking_id"])
    fed.phase_two_done("b", problem["booking_id"])
    for company in "bc":
        rows = [r for r in fed.reservations(company, active=True) if r["car_id"] == y]
        assert [r["state"] for r in rows] == ["confirmed"], (company, rows)


def problem_priority(fed, booking_id):
    return fed.http.get(f"{fed.api('b')}/bookings/{booking_id}", headers=fed.driver["b"]).json()[
        "priority_at"
    ]


def test_peer_calls_need_a_valid_peer_token(fed):
    r = fed.http.post(
        f"{fed.api('a')}/transactions/tx-1/prepare",
        headers={"Authorization": "Bearer not-a-peer-token"},
        json={
            "coordinator": "b",
            "booking_id": "bk1",
            "car_id": "c1",
            "priority_at": "2030-01-01T00:00:00Z",
            "legs": [
                {
                    "leg_index": 0,
                    "station_id": "a-recife-1",
                    "connector_id": "a-recife-1-c1",
                    "start": "2030-01-01T08:00:00Z",
                    "end": "2030-01-01T08:30:00Z",
                }
            ],
        },
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    # the admin token is not a peer token either
    r = fed.http.get(f"{fed.api('a')}/transactions/tx-1", headers=fed.servers["a"].admin)
    assert r.status_code == 401


def test_unknown_transaction_is_404(fed):
    token = _peer_token(fed, "a", "tester")
    r = fed.http.get(
        f"{fed.api('a')}/transactions/tx-unknown", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 404
    r = fed.http.post(
        f"{fed.api('a')}/transactions/tx-unknown/commit",
        headers={"Authorization": f"Bearer {token}"},
        json={"legs": [{"leg_index": 0, "connector_id": "a-recife-1-c1"}]},
    )
    assert r.status_code == 404


def _peer_token(fed, company, me):
    """Register the test itself as a peer through the handshake; returns the token to present."""
    from tests.federation import REGISTRATION

    r = fed.http.post(
        f"{fed.api(company)}/peers",
        headers={"Authorization": f"Bearer {REGISTRATION}"},
        json={"company": me, "url": "http://127.0.0.1:9", "token": "t" * 32},
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_retried_idempotency_key_returns_the_first_result(fed, corridor):
    body = {
        "car_id": "car-idem",
        "legs": [leg(corridor["goiana"], 6000, 6030), leg(corridor["propria"], 6300, 6330)],
    }
    headers = {"Idempotency-Key": "idem-key-1", **fed.driver["c"]}
    first = fed.http.post(f"{fed.api('c')}/bookings", json=body, headers=headers, timeout=30)
    again = fed.http.post(f"{fed.api('c')}/bookings", json=body, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(fed.reservations("a", first.json()["booking_id"])) == 1
    other = fed.http.post(
        f"{fed.api('c')}/bookings",
        headers=headers,
        timeout=30,
        json={**body, "car_id": "someone-else"},
    )
    assert other.status_code == 422


def test_cancel_releases_every_leg_at_every_company(fed, corridor):
    body = {
        "car_id": "car-cancel",
        "legs": [leg(corridor["palmares"], 7000, 7030), leg(corridor["estancia"], 7300, 7330)],
    }
    booking = fed.book("a", body, timeout=30).json()
    r = fed.http.delete(
        f"{fed.api('a')}/bookings/{booking['booking_id']}", headers=fed.driver["a"], timeout=30
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    for company in "ac":
        assert [x["state"] for x in fed.reservations(company, booking["booking_id"])] == [
            "cancelled"
        ]
    again = fed.http.post(
        f"{fed.api('b')}/bookings",
        headers=fed.driver["b"],
        json={**body, "car_id": "car-next"},
        timeout=30,
    )
    assert again.status_code == 201, again.text


def test_a_refusal_at_a_company_with_two_legs_is_reported_as_a_conflict(fed, corridor):
    """Company A refuses its first leg and, all or nothing, does not try its second: the answer
    names the taken leg with alternatives, not a silent company."""
    taken = leg(corridor["goiana"], 8000, 8030)
    first = fed.book("b", {"car_id": "car-first", "legs": [taken]})
    assert first.status_code == 201, first.text
    legs = [taken, leg(corridor["recife"], 8100, 8130), leg(corridor["maceio"], 8200, 8230)]
    r = fed.book("b", {"car_id": "car-second", "legs": legs}, timeout=30)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["detail"].startswith("1 of 3 legs are not available"), problem
    assert [c["leg_index"] for c in problem["conflicts"]] == [0]
    assert problem["conflicts"][0]["alternatives"], str(problem["conflicts"])
    fed.phase_two_done("b", problem["booking_id"])  # the aborts go out after the answer
    for company in "ab":
        assert all(
            x["state"] == "aborted" for x in fed.reservations(company, problem["booking_id"])
        )


def test_a_booking_is_visible_and_changeable_only_by_its_driver_and_the_admin(fed, corridor):
    owner, stranger = fed.driver["a"], fed.issue_driver("a", "someone else")
    body = {"car_id": "car-owned", "legs": [leg(corridor["goiana"], 9000, 9030)]}
    assert fed.http.post(f"{fed.api('a')}/bookings", json=body, timeout=30).status_code == 401
    assert (
        fed.http.post(
            f"{fed.api('a')}/plans",
            timeout=30,
            json={
                "origin": "joao-pessoa",
                "destination": "recife",
                "departure": at(9000),
                "vehicle": {"model_id": "byd-seal", "soc": 0.9},
            },
        ).status_code
        == 401
    )
    r = fed.http.post(f"{fed.api('a')}/bookings", json=body, headers=owner, timeout=30)
    assert r.status_code == 201, r.text
    url = f"{fed.api('a')}/bookings/{r.json()['booking_id']}"
    for headers in (stranger, fed.driver["b"]):  # another driver; a driver of another company
        assert fed.http.get(url, headers=headers, timeout=30).status_code in (401, 404)
        assert fed.http.delete(url, headers=headers, timeout=30).status_code in (401, 404)
        assert fed.http.patch(
            url,
            headers=headers,
            timeout=30,
            json={"legs": [{"leg_index": 0, **leg(corridor["goiana"], 9100, 9130)}]},
        ).status_code in (401, 404)
    assert fed.http.get(url, headers=stranger, timeout=30).status_code == 404
    assert fed.http.get(url, timeout=30).status_code == 401
    assert (
        fed.http.get(url, headers=fed.servers["a"].admin, timeout=30).json()["state"] == "confirmed"
    )
    assert fed.http.get(url, headers=owner, timeout=30).json()["state"] == "confirmed"
    assert fed.http.delete(url, headers=owner, timeout=30).json()["state"] == "cancelled"
