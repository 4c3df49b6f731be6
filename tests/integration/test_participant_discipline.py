"""A participant's record and its holds change together (SPEC §4 "Participant discipline").

Driven through the REST API of a company running in this process (``tests.inprocess``: the
real app, database and workers, no sockets), as a registered peer would: prepares and aborts
of one transaction racing each other, commits that must commit exactly what was prepared,
messages about another coordinator's transaction, and recovery's orphan-hold invariant.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2
import psycopg2.extras
import pytest

from tests.federation import REGISTRATION
from tests.inprocess import InProcessCompany, Network

T0 = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class Participant:
    """One company, and this test acting as peer companies 'x' and 'y' towards it."""

    def __init__(self, server: InProcessCompany, url: str, http: httpx.Client):
        self.server, self.url, self.http = server, url, http
        self.tokens = {c: self._handshake(c) for c in ("x", "y")}
        r = self.http.post(
            f"{server.api}/stations",
            headers=server.admin,
            json={
                "place_id": "recife",
                "connectors": [{"power_kw": 150, "price_per_kwh": 2.0}] * 4,
            },
        )
        assert r.status_code == 201, r.text
        self.station = r.json()

    def _handshake(self, company: str) -> str:
        r = self.http.post(
            f"{self.server.api}/peers",
            headers={"Authorization": f"Bearer {REGISTRATION}"},
            json={
                "company": company,
                "url": f"http://127.0.0.1:9/{company}",
                "token": f"unused-token-of-{company}",
            },
        )
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def send(self, tx: str, message: str, body: dict | None = None, company: str = "x"):
        return self.http.post(
            f"{self.server.api}/transactions/{tx}/{message}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.tokens[company]}"},
        )

    def prepare_body(self, slot: int, connector: int = 0, company: str = "x") -> dict:
        start = T0 + timedelta(minutes=40 * slot)
        return {
            "coordinator": company,
            "booking_id": f"bk-{uuid.uuid4().hex[:12]}",
            "priority_at": _iso(datetime.now(UTC)),
            "car_id": "car-race",
            "legs": [
                {
                    "leg_index": 0,
                    "station_id": self.station["id"],
                    "connector_id": self.station["connectors"][connector]["id"],
                    "start": _iso(start),
                    "end": _iso(start + timedelta(minutes=30)),
                }
            ],
        }

    def rows(self, sql: str) -> list[dict]:
        if self.url.startswith("sqlite"):
            with contextlib.closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as c:
                c.row_factory = sqlite3.Row
                return [dict(r) for r in c.execute(sql).fetchall()]
        with (
            contextlib.closing(psycopg2.connect(self.url)) as conn,
            conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
        ):
            cur.execute(sql)
            return [dict(r) for r in cur.fetchall()]

    def orphans(self) -> list[dict]:
        return self.rows("""SELECT r.id, r.tx_id, p.state FROM reservation r
                              LEFT JOIN participant_tx p ON p.tx_id = r.tx_id
                             WHERE r.state = 'held' AND (p.state IS NULL OR p.state <> 'prepared')""")


@pytest.fixture
def participant(database_url):
    url = database_url
    # a long recovery interval: the sweep that would release an orphan must not hide one
    network = Network()
    server = InProcessCompany(
        network,
        "a",
        url,
        RECARGA_REGISTRATION_TOKEN=REGISTRATION,
        RECARGA_RECOVERY_INTERVAL="300",
        RECARGA_THREADS="32",
    ).start()
    with network.client(timeout=30) as http:
        yield Participant(server, url, http)
    server.stop()


def test_prepares_and_aborts_racing_leave_no_orphan_hold(participant):
    """300 pairs, each a prepare and an abort of one transaction 0–60 ms apart in either
    order: every transaction ends aborted with nothing held, whoever came first."""
    rng = random.Random(20261202)
    pairs = [
        (f"tx-race-{i}-{uuid.uuid4().hex[:8]}", i, rng.uniform(0, 0.06), rng.random() < 0.5)
        for i in range(300)
    ]

    def pair(tx, slot, delay, abort_first):
        body = participant.prepare_body(slot, connector=slot % 4)
        first, second = (
            (("abort", {}), ("prepare", body))
            if abort_first
            else (("prepare", body), ("abort", {}))
        )
        statuses = {}

        def later():
            time.sleep(delay)
            statuses[second[0]] = participant.send(tx, *second).status_code

        t = threading.Thread(target=later)
        t.start()
        statuses[first[0]] = participant.send(tx, *first).status_code
        t.join()
        return statuses

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: pair(*p), pairs))
    for statuses in results:
        assert statuses["abort"] == 200, statuses
        assert statuses["prepare"] in (200, 409), statuses
    assert participant.orphans() == []
    assert participant.rows("SELECT id FROM reservation WHERE state = 'held'") == []
    states = {
        r["state"]
        for r in participant.rows("SELECT state FROM participant_tx WHERE tx_id LIKE 'tx-race-%'")
    }
    assert states == {"aborted"}


def test_a_late_prepare_after_its_abort_is_refused(participant):
    tx = f"tx-{uuid.uuid4().hex}"
    assert participant.send(tx, "abort").json()["state"] == "aborted"
    r = participant.send(tx, "prepare", participant.prepare_body(1))
    assert r.status_code == 409
    assert "aborted" in r.json()["conflicts"][0]["reason"]
    assert participant.rows(f"SELECT id FROM reservation WHERE tx_id = '{tx}'") == []


def test_commit_with_an_empty_body_commits_what_was_prepared(participant):
    tx = f"tx-{uuid.uuid4().hex}"
    assert participant.send(tx, "prepare", participant.prepare_body(2)).status_code == 200
    r = participant.send(tx, "commit", {})
    assert r.status_code == 200 and r.json()["state"] == "committed"
    assert [
        row["state"]
        for row in participant.rows(f"SELECT state FROM reservation WHERE tx_id = '{tx}'")
    ] == ["confirmed"]
    # a repeated commit is a no-op; an abort after the commit is a conflict
    assert participant.send(tx, "commit", {}).json()["state"] == "committed"
    assert participant.send(tx, "abort").status_code == 409


def test_commit_cross_checks_the_legs_it_names(participant):
    tx = f"tx-{uuid.uuid4().hex}"
    body = participant.prepare_body(3)
    assert participant.send(tx, "prepare", body).status_code == 200
    wrong = {"legs": [{"leg_index": 0, "connector_id": participant.station["connectors"][1]["id"]}]}
    r = participant.send(tx, "commit", wrong)
    assert r.status_code == 409, r.text
    assert participant.rows(f"SELECT state FROM reservation WHERE tx_id = '{tx}'") == [
        {"state": "held"}
    ]
    right = {"legs": [{"leg_index": 0, "connector_id": body["legs"][0]["connector_id"]}]}
    assert participant.send(tx, "commit", right).json()["state"] == "committed"


def test_unknown_and_aborted_transactions_cannot_be_committed(participant):
    unknown = f"tx-{uuid.uuid4().hex}"
    r = participant.send(unknown, "commit", {})
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # the 404 wrote nothing: a later abort is a plain presumed abort
    assert participant.send(unknown, "abort").json()["state"] == "aborted"
    assert participant.send(unknown, "commit", {}).status_code == 409

    tx = f"tx-{uuid.uuid4().hex}"
    assert participant.send(tx, "prepare", participant.prepare_body(4)).status_code == 200
    assert participant.send(tx, "abort").json()["state"] == "aborted"
    assert participant.send(tx, "commit", {}).status_code == 409
    assert participant.rows(f"SELECT state FROM reservation WHERE tx_id = '{tx}'") == [
        {"state": "aborted"}
    ]


def test_a_peer_cannot_touch_another_coordinators_transaction(participant):
    tx = f"tx-{uuid.uuid4().hex}"
    assert participant.send(tx, "prepare", participant.prepare_body(5)).status_code == 200
    for message in ("commit", "abort"):
        r = participant.send(tx, message, {}, company="y")
        assert r.status_code == 404, (message, r.text)
    r = participant.send(tx, "prepare", participant.prepare_body(6, company="y"), company="y")
    assert r.status_code == 409
    assert participant.rows(f"SELECT state FROM reservation WHERE tx_id = '{tx}'") == [
        {"state": "held"}
    ]
    assert participant.send(tx, "abort").json()["state"] == "aborted"


def test_prepare_refuses_an_inverted_window_as_bookings_do(participant):
    body = participant.prepare_body(7)
    leg = body["legs"][0]
    leg["start"], leg["end"] = leg["end"], leg["start"]
    r = participant.send(f"tx-{uuid.uuid4().hex}", "prepare", body)
    assert r.status_code == 422, r.text
