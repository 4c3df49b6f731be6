"""No 500 for anything a client can send (SPEC §5): each class of hostile input gets a 4xx
problem+json and writes nothing, and a database that cannot serve is a 503 with Retry-After."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid

import httpx
import psycopg2
import pytest

from booking.errors import Unavailable
from storage import Store
from tests.support import PG_ADMIN_DSN, ServerProcess

EDGE_TIMES = [
    "0001-01-01T00:00:00+10:00",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
]


def problem(r: httpx.Response, *statuses: int) -> dict:
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    return r.json()


def _counts(server_a) -> tuple[int, int, int]:
    with (
        contextlib.closing(psycopg2.connect(server_a.env["RECARGA_DATABASE_URL"])) as conn,
        conn.cursor() as cur,
    ):
        out = []
        for table in ("reservation", "coordinator_tx", "participant_tx"):
            cur.execute(f"SELECT count(*) FROM {table}")
            out.append(cur.fetchone()[0])
        return tuple(out)


@pytest.mark.parametrize("edge", EDGE_TIMES)
def test_times_at_the_edges_of_the_calendar_are_refused_in_every_time_field(
    server_a, station, peer_token, edge
):
    before = _counts(server_a)
    api, auth = server_a.api, server_a.admin
    connector = station["connectors"][0]["id"]
    plan = {
        "origin": "joao-pessoa",
        "destination": "recife",
        "departure": edge,
        "vehicle": {"model_id": "byd-seal", "soc": 0.9},
    }
    problem(httpx.post(f"{api}/plans", json=plan, headers=auth), 400, 422)
    for start, end in ((edge, "2030-01-01T10:00:00Z"), ("2030-01-01T10:00:00Z", edge)):
        leg = {
            "company": "a",
            "station_id": station["id"],
            "connector_id": connector,
            "start": start,
            "end": end,
        }
        problem(
            httpx.post(f"{api}/bookings", json={"car_id": "car-edge", "legs": [leg]}, headers=auth),
            400,
            422,
        )
        prepare = {
            "coordinator": "hostile",
            "booking_id": "bk-edge",
            "car_id": "car-edge",
            "priority_at": "2030-01-01T09:00:00Z",
            "legs": [
                {
                    "leg_index": 0,
                    "station_id": station["id"],
                    "connector_id": connector,
                    "start": start,
                    "end": end,
                }
            ],
        }
        problem(
            httpx.post(
                f"{api}/transactions/tx-edge-{uuid.uuid4().hex[:8]}/prepare",
                json=prepare,
                headers=peer_token,
            ),
            400,
            422,
        )
    prepare["priority_at"] = edge
    prepare["legs"][0].update(start="2030-01-01T10:00:00Z", end="2030-01-01T11:00:00Z")
    problem(
        httpx.post(f"{api}/transactions/tx-edge-p/prepare", json=prepare, headers=peer_token),
        400,
        422,
    )
    problem(
        httpx.get(f"{api}/stations/{station['id']}/availability", params={"from": edge}), 400, 422
    )
    problem(
        httpx.get(
            f"{api}/stations/{station['id']}/availability",
            params={"from": "2030-01-01T10:00:00Z", "to": edge},
        ),
        400,
        422,
    )
    problem(
        httpx.get(f"{api}/stations", params={"free_from": edge, "free_to": "2030-01-02T00:00:00Z"}),
        400,
        422,
    )
    problem(
        httpx.get(f"{api}/stations", params={"free_from": "2030-01-01T00:00:00Z", "free_to": edge}),
        400,
        422,
    )
    assert _counts(server_a) == before


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(server_a, constant):
    raw = (
        '{"origin": "joao-pessoa", "destination": "recife", '
        '"departure": "2030-07-01T08:00:00Z", '
        f'"vehicle": {{"model_id": "byd-seal", "soc": {constant}}}}}'
    )
    body = problem(
        httpx.post(
            f"{server_a.api}/plans",
            content=raw,
            headers={**server_a.admin, "Content-Type": "application/json"},
        ),
        400,
    )
    assert constant.lstrip("-") in body["detail"]


def test_deeply_nested_json_is_a_400(server_a, peer_token):
    before = _counts(server_a)
    deep = "[" * 1000 + "]" * 1000
    for path, headers in (
        ("/plans", server_a.admin),
        ("/bookings", server_a.admin),
        ("/transactions/tx-deep/prepare", peer_token),
    ):
        raw = '{"car_id": "x", "legs": ' + deep + "}"
        body = problem(
            httpx.post(
                f"{server_a.api}{path}",
                content=raw,
                headers={**headers, "Content-Type": "application/json"},
            ),
            400,
        )
        assert "nests deeper" in body["detail"]
    assert _counts(server_a) == before


def test_a_body_over_the_limit_is_a_413(server_a):
    filler = "x" * (1024 * 1024 + 10)
    body = problem(
        httpx.post(
            f"{server_a.api}/plans",
            headers=server_a.admin,
            content=json.dumps({"origin": filler}),
            timeout=30,
        ),
        413,
    )
    assert "1048576" in body["detail"]

    # a chunked body (no Content-Length) is counted as it arrives
    def chunks():
        for _ in range(20):
            yield b"x" * 65536

    problem(
        httpx.post(
            f"{server_a.api}/plans",
            headers={**server_a.admin, "Content-Type": "application/json"},
            content=chunks(),
            timeout=30,
        ),
        413,
    )


def test_prepare_and_bookings_give_one_status_for_an_inverted_window(server_a, station, peer_token):
    connector = station["connectors"][0]["id"]
    start, end = "2030-01-01T11:00:00Z", "2030-01-01T10:00:00Z"
    leg = {
        "company": "a",
        "station_id": station["id"],
        "connector_id": connector,
        "start": start,
        "end": end,
    }
    booking = problem(
        httpx.post(
            f"{server_a.api}/bookings",
            headers=server_a.admin,
            json={"car_id": "car-x", "legs": [leg]},
        ),
        422,
    )
    prepare = problem(
        httpx.post(
            f"{server_a.api}/transactions/tx-inverted/prepare",
            headers=peer_token,
            json={
                "coordinator": "hostile",
                "booking_id": "bk-inv",
                "car_id": "car-x",
                "priority_at": "2030-01-01T09:00:00Z",
                "legs": [
                    {
                        "leg_index": 0,
                        "station_id": station["id"],
                        "connector_id": connector,
                        "start": start,
                        "end": end,
                    }
                ],
            },
        ),
        422,
    )
    assert booking["status"] == prepare["status"] == 422


def test_a_database_that_refuses_connections_is_a_503_with_retry_after(pg_url, tmp_path):
    server = ServerProcess("a", pg_url, log_dir=tmp_path).start()
    name = pg_url.rsplit("/", 1)[1]
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        for request in (
            lambda: httpx.get(f"{server.api}/stations", timeout=30),
            lambda: httpx.get(f"{server.api}/stations/a-recife-1", timeout=30),
        ):
            r = request()
            problem(r, 503)
            assert int(r.headers["retry-after"]) > 0
        health = httpx.get(f"{server.api}/health", timeout=30).json()
        assert health["database"] == "error"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.close()
    assert httpx.get(f"{server.api}/stations", timeout=30).status_code == 200
    server.stop()


def test_an_exhausted_pool_waits_a_bounded_time_then_is_unavailable(pg_url):
    store = Store(pg_url, pool_size=1, pool_timeout=0.3)
    holding, done = threading.Event(), threading.Event()

    def hold():
        with store.connection():
            holding.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(10)
    try:
        with pytest.raises(Unavailable) as caught, store.connection():
            pass
        assert caught.value.status == 503
    finally:
        done.set()
        t.join()
    with store.connection():  # the connection came back
        assert store.get_setting("schema_version")
    store.close()


@pytest.mark.parametrize(
    "path,body",
    [
        ("/drivers", {"name": "ana\n"}),
        (
            "/stations",
            {
                "place_id": "recife",
                "name": "trailing newline\n",
                "connectors": [{"power_kw": 50, "price_per_kwh": 1.5}],
            },
        ),
    ],
)
def test_a_name_ending_in_a_newline_is_refused(server_a, path, body):
    # Python's ``$`` matches before a final newline, so the contract's pattern alone lets it by
    problem(httpx.post(f"{server_a.api}{path}", json=body, headers=server_a.admin), 400)
