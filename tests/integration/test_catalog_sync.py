"""Each server's copy of its peers' catalogs, the companies in one process (issue: planning at
national scale): a station added, changed or removed at one company reaches every peer's copy within
5 s (pushed); a peer down during a sync leaves the copy as it was and says so; a plan made on
a copy older than the peer's change books nothing that no longer exists."""

from __future__ import annotations

import time

import pytest

from tests.federation import Federation, leg


@pytest.fixture
def fed(tmp_path):
    federation = Federation(tmp_path, in_process=True, RECARGA_CATALOG_SYNC_SECONDS="1")
    federation.start()
    yield federation
    federation.close()


def _copy_at(fed, holder: str, of: str) -> dict:
    peers = fed.http.get(
        f"{fed.api(holder)}/peers", headers=fed.servers[holder].admin, timeout=30
    ).json()["items"]
    return next(p for p in peers if p["company"] == of)["catalog"]


def _catalog(fed, company: str, **params) -> dict:
    r = fed.http.get(f"{fed.api(company)}/catalog", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _in_every_copy(fed, company: str, version: int, began: float, within: float = 5.0):
    for holder in fed.servers:
        if holder == company:
            continue
        fed.eventually(
            lambda h=holder: _copy_at(fed, h, company)["version"] == version,
            timeout=within + 5,
            what=f"{holder}'s copy of {company} at {version}",
        )
    return time.monotonic() - began


def test_the_catalog_feed_is_exact_and_answers_304_when_unchanged(tmp_path):
    fed = Federation(tmp_path, companies=("a",), in_process=True).start()
    try:
        first = fed.add_station("a", "recife")
        whole = _catalog(fed, "a")
        etag = f'"{whole["version"]}"'
        assert [s["id"] for s in whole["stations"]] == [first["id"]]
        r = fed.http.get(f"{fed.api('a')}/catalog", headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.headers["ETag"] == etag
        second = fed.add_station("a", "maceio")
        r = fed.http.patch(
            f"{fed.api('a')}/stations/{first['id']}",
            headers=fed.servers["a"].admin,
            json={"connectors": [{"id": first["connectors"][0]["id"], "price_per_kwh": 9.5}]},
        )
        assert r.status_code == 200, r.text
        changes = _catalog(fed, "a", since=whole["version"])
        assert changes["version"] == whole["version"] + 2 and changes["removed"] == []
        by_id = {s["id"]: s for s in changes["stations"]}
        assert set(by_id) == {first["id"], second["id"]}
        assert by_id[first["id"]]["connectors"][0]["price_per_kwh"] == 9.5
        assert (
            fed.http.delete(
                f"{fed.api('a')}/stations/{second['id']}", headers=fed.servers["a"].admin
            ).status_code
            == 204
        )
        later = _catalog(fed, "a", since=changes["version"])
        assert later["stations"] == [] and later["removed"] == [second["id"]]
    finally:
        fed.close()


def test_added_changed_and_removed_stations_reach_every_copy_within_5_s(fed):
    began = time.monotonic()
    station = fed.add_station("b", "maceio")
    version = _catalog(fed, "b")["version"]
    assert _in_every_copy(fed, "b", version, began) < 5
    assert _copy_at(fed, "a", "b")["stations"] == 1
    assert _copy_at(fed, "a", "b")["state"] == "synchronised"

    began = time.monotonic()
    r = fed.http.patch(
        f"{fed.api('b')}/stations/{station['id']}",
        headers=fed.servers["b"].admin,
        json={"name": "Maceió, beside the bakery"},
    )
    assert r.status_code == 200, r.text
    assert _in_every_copy(fed, "b", version + 1, began) < 5

    began = time.monotonic()
    assert (
        fed.http.delete(
            f"{fed.api('b')}/stations/{station['id']}", headers=fed.servers["b"].admin
        ).status_code
        == 204
    )
    assert _in_every_copy(fed, "b", version + 2, began) < 5
    assert _copy_at(fed, "c", "b")["stations"] == 0


def test_a_station_with_reservations_to_honour_cannot_be_removed(fed):
    station = fed.add_station("b", "maceio")
    r = fed.book("b", {"car_id": "car-r", "legs": [leg(station, 60, 90)]})
    assert r.status_code == 201, r.text
    r = fed.http.delete(f"{fed.api('b')}/stations/{station['id']}", headers=fed.servers["b"].admin)
    assert r.status_code == 409 and "reservations to honour" in r.json()["detail"]


def test_a_peer_down_during_sync_keeps_the_copy_and_says_so_then_catches_up(fed):
    fed.add_station("c", "aracaju")
    version = _catalog(fed, "c")["version"]
    fed.eventually(lambda: _copy_at(fed, "b", "c")["version"] == version, what="B's copy of C")
    fed.down("c")
    fed.eventually(
        lambda: _copy_at(fed, "b", "c")["state"] == "failing",
        timeout=15,
        what="B's copy of C marked failing",
    )
    copy = _copy_at(fed, "b", "c")
    assert copy["stations"] == 1 and copy["version"] == version and copy["last_error"]
    plan = fed.plan(
        "b",
        {
            "origin": "joao-pessoa",
            "destination": "feira-de-santana",
            "departure": "2030-01-01T08:00:00Z",
            "vehicle": {"model_id": "byd-dolphin", "soc": 0.9},
        },
    )
    assert plan.status_code == 200, plan.text
    assert [m["company"] for m in plan.json()["companies_missing"]] == ["c"]
    fed.restart("c")
    fed.add_station("c", "estancia")  # pushed to B, or pulled at the next round
    fed.eventually(
        lambda: _copy_at(fed, "b", "c")["stations"] == 2,
        timeout=15,
        what="B's copy of C to catch up",
    )
    assert _copy_at(fed, "b", "c")["state"] == "synchronised"


def test_a_plan_on_a_copy_older_than_the_peers_change_books_nothing_that_vanished(fed):
    gone = fed.add_station("c", "aracaju")
    kept = fed.add_station("c", "aracaju")
    # A restarts with its catalog worker set to pause before it next catches up with C
    fed.restart("a", faults="catalog_sync@c")
    fed.eventually(lambda: _copy_at(fed, "a", "c")["stations"] == 2, what="A's copy of C")
    # C removes a station and tells A; A's worker pauses before catching up: A's copy is stale
    assert (
        fed.http.delete(
            f"{fed.api('c')}/stations/{gone['id']}", headers=fed.servers["c"].admin
        ).status_code
        == 204
    )
    fed.wait_reached("catalog_sync@c")
    assert _copy_at(fed, "a", "c")["stations"] == 2
    r = fed.book("a", {"car_id": "car-stale", "legs": [leg(gone, 600, 630)]})
    assert r.status_code == 409, r.text
    [conflict] = r.json()["conflicts"]
    assert "no connector" in conflict["reason"]
    offered = {a["station_id"] for a in conflict["alternatives"]}
    assert gone["id"] not in offered and kept["id"] in offered
    assert fed.reservations("c", active=True) == []
    fed.release("catalog_sync@c")
