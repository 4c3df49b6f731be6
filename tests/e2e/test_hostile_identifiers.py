"""Identifiers exact to their pattern, numbers bounded (SPEC §5: never a 500 for anything a
client can send), against a real server on PostgreSQL.

Every identifier the contract names, in every kind of request that carries it, with a trailing
newline, a trailing carriage return and one character over its maximum: a 4xx problem+json,
nothing stored, and the listings everyone reads still answer. Python's ``re`` lets ``$`` match
before a final newline, so a contract validated with it took ``"a-nl-1\\n"`` as a station id.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from urllib.parse import quote

import httpx
import psycopg2
import pytest

from tests.federation import REGISTRATION

BIG = "9" * 4301  # past Python's integer-string limit (4,300 digits)
WINDOW = {"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}
TABLES = (
    "station",
    "connector",
    "reservation",
    "coordinator_tx",
    "participant_tx",
    "peer",
    "driver",
    "idempotency",
)


def problem(r: httpx.Response, low: int = 400, high: int = 499) -> dict:
    assert low <= r.status_code <= high, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body["detail"], body
    return body


def _snapshot(server_a) -> dict:
    """Every row of the tables a request could write, as text: "nothing stored" is exact."""
    out = {}
    with (
        contextlib.closing(psycopg2.connect(server_a.env["RECARGA_DATABASE_URL"])) as conn,
        conn.cursor() as cur,
    ):
        for table in TABLES:
            cur.execute("SELECT to_regclass(%s)", (table,))
            if cur.fetchone()[0] is None:
                continue
            cur.execute(f"SELECT * FROM {table} ORDER BY 1")
            out[table] = [tuple(map(str, row)) for row in cur.fetchall()]
    return out


def _hostile(valid: str, longest: int) -> list[str]:
    return [
        valid + "\n",
        valid + "\r",
        valid + "\r\n",
        "\n" + valid,
        valid + "x" * (longest + 1 - len(valid)),
    ]


#: (identifier, a valid value, its longest length) — each schema of the contract that names
#: something (openapi/openapi.yaml: CompanyId, StationId, ConnectorId, the car, booking,
#: transaction and reservation ids, a place filter)
IDS = {
    "company": ("a", 32),
    "station": ("a-recife-1", 64),
    "connector": ("a-recife-1-c1", 80),
    "car": ("car-1", 64),
    "booking": ("bk-1", 64),
    "tx": ("tx-1", 64),
    "reservation": ("r-1", 64),
    "place": ("recife", 64),
    "driver": ("drv-1", 40),
}


def _requests(kind: str, value: str, station: dict, admin: dict, peer: dict) -> list[tuple]:
    """(method, path, json body or query, headers) for every request that carries ``kind``."""
    connector = station["connectors"][0]["id"]
    leg = {"company": "a", "station_id": station["id"], "connector_id": connector, **WINDOW}
    prepare = {
        "coordinator": "hostile",
        "booking_id": "bk-ok",
        "car_id": "car-ok",
        "priority_at": "2030-01-01T09:00:00Z",
        "legs": [
            {"leg_index": 0, "station_id": station["id"], "connector_id": connector, **WINDOW}
        ],
    }
    tx = f"tx-{uuid.uuid4().hex[:10]}"
    station_body = {"place_id": "recife", "connectors": [{"power_kw": 50, "price_per_kwh": 1.5}]}
    plan = {
        "origin": "joao-pessoa",
        "destination": "recife",
        "departure": "2030-01-01T08:00:00Z",
        "vehicle": {"model_id": "byd-seal", "soc": 0.9},
    }
    q = httpx.QueryParams
    seg = quote(value, safe="")  # in a path, percent-encoded as a client sends it
    return {
        "company": [
            ("POST", "/bookings", {"car_id": "car-ok", "legs": [{**leg, "company": value}]}, admin),
            (
                "POST",
                "/peers",
                {"company": value, "url": "http://127.0.0.1:9", "token": "t" * 32},
                {"Authorization": f"Bearer {REGISTRATION}"},
            ),
            ("POST", f"/transactions/{tx}/prepare", {**prepare, "coordinator": value}, peer),
            ("POST", "/plans", {**plan, "avoid_companies": [value]}, admin),
            ("GET", "/stations", q({"company": value}), admin),
            ("DELETE", f"/peers/{seg}", None, admin),
        ],
        "station": [
            ("POST", "/stations", {**station_body, "id": value}, admin),
            ("GET", f"/stations/{seg}", None, admin),
            ("PATCH", f"/stations/{seg}", {"name": "x"}, admin),
            ("DELETE", f"/stations/{seg}", None, admin),
            ("GET", f"/stations/{seg}/availability", None, admin),
            (
                "POST",
                "/bookings",
                {"car_id": "car-ok", "legs": [{**leg, "station_id": value}]},
                admin,
            ),
            (
                "POST",
                f"/transactions/{tx}/prepare",
                {**prepare, "legs": [{**prepare["legs"][0], "station_id": value}]},
                peer,
            ),
        ],
        "connector": [
            (
                "POST",
                "/bookings",
                {"car_id": "car-ok", "legs": [{**leg, "connector_id": value}]},
                admin,
            ),
            (
                "POST",
                f"/transactions/{tx}/prepare",
                {**prepare, "legs": [{**prepare["legs"][0], "connector_id": value}]},
                peer,
            ),
        ],
        "car": [
            ("POST", "/bookings", {"car_id": value, "legs": [leg]}, admin),
            ("POST", f"/transactions/{tx}/prepare", {**prepare, "car_id": value}, peer),
            (
                "POST",
                "/prepares",
                {"prepares": [{"tx_id": tx, "prepare": {**prepare, "car_id": value}}]},
                peer,
            ),
        ],
        "booking": [
            ("GET", f"/bookings/{seg}", None, admin),
            ("DELETE", f"/bookings/{seg}", None, admin),
            ("PATCH", f"/bookings/{seg}", {"legs": [{"leg_index": 0, **leg}]}, admin),
            ("POST", f"/transactions/{tx}/prepare", {**prepare, "booking_id": value}, peer),
        ],
        "tx": [
            ("POST", f"/transactions/{seg}/prepare", prepare, peer),
            ("POST", f"/transactions/{seg}/commit", {}, peer),
            ("POST", f"/transactions/{seg}/abort", {}, peer),
            ("GET", f"/transactions/{seg}", None, peer),
            ("POST", "/decisions", {"decisions": [{"tx_id": value, "decision": "abort"}]}, peer),
            ("POST", "/prepares", {"prepares": [{"tx_id": value, "prepare": prepare}]}, peer),
        ],
        "reservation": [
            ("GET", f"/monitor/reservations/{seg}/booking", None, admin),
        ],
        "driver": [
            ("DELETE", f"/drivers/{seg}", None, admin),
        ],
        "place": [
            (
                "POST",
                "/availability",
                {"from": WINDOW["start"], "to": WINDOW["end"], "places": [value]},
                peer,
            ),
        ],
    }[kind]


@pytest.mark.parametrize("kind", sorted(IDS))
def test_every_identifier_is_exact_to_its_pattern(server_a, station, peer_token, kind):
    valid, longest = IDS[kind]
    before = _snapshot(server_a)
    for value in _hostile(valid, longest):
        for method, path, body, headers in _requests(
            kind, value, station, server_a.admin, peer_token
        ):
            url = f"{server_a.api}{path}"
            if method == "GET" or (method == "DELETE" and body is None):
                r = httpx.request(method, url, params=body, headers=headers)
            else:
                r = httpx.request(method, url, json=body, headers=headers)
            # 404 for a path whose parameter cannot name anything is a fair answer too, but
            # never a 2xx and never a 5xx
            problem(r)
    assert _snapshot(server_a) == before
    assert httpx.get(f"{server_a.api}/stations").status_code == 200
    assert httpx.get(f"{server_a.api}/catalog").status_code == 200
    assert httpx.get(f"{server_a.api}/peers", headers=server_a.admin).status_code == 200


def _json_bodies(station: dict) -> list[tuple[str, str, dict]]:
    connector = station["connectors"][0]["id"]
    leg = {"company": "a", "station_id": station["id"], "connector_id": connector, **WINDOW}
    prepare = {
        "coordinator": "hostile",
        "booking_id": "bk-big",
        "car_id": "car-big",
        "priority_at": "2030-01-01T09:00:00Z",
        "hold_seconds": "@",
        "legs": [
            {"leg_index": 0, "station_id": station["id"], "connector_id": connector, **WINDOW}
        ],
    }
    return [
        (
            "POST",
            "/plans",
            {
                "origin": "joao-pessoa",
                "destination": "recife",
                "departure": "2030-01-01T08:00:00Z",
                "vehicle": {"model_id": "byd-seal", "soc": "@"},
            },
        ),
        ("POST", "/bookings", {"car_id": "car-ok", "legs": [{**leg, "start": "@"}]}),
        (
            "POST",
            "/stations",
            {"place_id": "recife", "connectors": [{"power_kw": "@", "price_per_kwh": 1.5}]},
        ),
        ("PATCH", f"/stations/{station['id']}", {"name": "@"}),
        ("POST", "/drivers", {"name": "@"}),
        ("POST", "/drivers/drv-none/token", {"expires_at": "@"}),
        ("POST", "/peers", {"url": "@"}),
        ("POST", "/availability", {"from": "@", "to": WINDOW["end"]}),
        ("POST", "/transactions/tx-big/prepare", prepare),
        ("POST", "/prepares", {"prepares": [{"tx_id": "tx-big", "prepare": prepare}]}),
        ("POST", "/transactions/tx-big/commit", {"legs": "@"}),
        ("POST", "/transactions/tx-big/abort", {"legs": "@"}),
        ("POST", "/decisions", {"decisions": "@"}),
        ("POST", "/catalog/notify", {"version": "@"}),
        ("PATCH", "/bookings/bk-none", {"legs": [{"leg_index": "@", **leg}]}),
    ]


@pytest.mark.parametrize("number", [BIG, "-" + BIG, "1e999", "-1e999", "1" + "0" * 200 + ".5"])
def test_a_number_no_value_can_hold_is_a_400_problem_in_every_body(
    server_a, station, peer_token, number
):
    before = _snapshot(server_a)
    bodies = _json_bodies(station)
    spec_paths = {(m, p) for m, p, _ in bodies}
    assert len(spec_paths) == len(bodies)
    for method, path, body in bodies:
        peer_call = path.startswith(
            ("/transactions", "/prepares", "/decisions", "/catalog/", "/availability")
        )
        headers = peer_token if peer_call else server_a.admin
        raw = json.dumps(body).replace('"@"', number)
        r = httpx.request(
            method,
            f"{server_a.api}{path}",
            content=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        detail = problem(r, 400, 400)["detail"]
        assert "number" in detail or "range" in detail, detail
    # before authentication too: the body is refused whoever sends it
    r = httpx.post(
        f"{server_a.api}/bookings",
        content='{"car_id": ' + BIG + "}",
        headers={"Content-Type": "application/json"},
    )
    problem(r, 400, 400)
    r = httpx.get(f"{server_a.api}/catalog", params={"since": BIG})
    problem(r, 400, 400)
    assert _snapshot(server_a) == before


def test_every_operation_with_a_json_body_is_tried_with_a_huge_number(station):
    """The list above covers every operation of the contract that takes a JSON body."""
    import yaml

    from tests.support import ROOT

    spec = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    with_body = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "requestBody" in op
    }

    def template(path: str) -> str:
        for concrete, name in (
            (station["id"], "{station_id}"),
            ("tx-big", "{tx_id}"),
            ("bk-none", "{booking_id}"),
            ("drv-none", "{driver_id}"),
        ):
            path = path.replace(concrete, name)
        return path

    tried = {(m, template(p)) for m, p, _ in _json_bodies(station)}
    assert with_body <= tried, with_body - tried


def test_a_peer_registered_by_handshake_is_the_resource_the_answer_names(server_a):
    r = httpx.post(
        f"{server_a.api}/peers",
        json={"company": "newcomer", "url": "http://127.0.0.1:9", "token": "n" * 32},
        headers={"Authorization": f"Bearer {REGISTRATION}"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["company"] == "newcomer" and body["url"] == "http://127.0.0.1:9"
    assert body["registered_at"] == "a" and body["token"]
    listed = httpx.get(f"{server_a.api}/peers", headers=server_a.admin).json()["items"]
    assert "newcomer" in {p["company"] for p in listed}
    assert httpx.delete(f"{server_a.api}/peers/newcomer", headers=server_a.admin).status_code == 204
