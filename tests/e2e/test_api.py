"""The real server process (waitress → recarga.wsgi → connexion) on a throwaway PostgreSQL database."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import yaml

from booking.model import Reservation, ReservationState, Window
from storage import Store
from tests.support import ROOT


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"]
    return body


def test_health_and_network(server_a):
    health = httpx.get(f"{server_a.api}/health").json()
    assert health["status"] == "ok" and health["company"] == "a"
    assert health["database"] == "ok" and health["mqtt"] == "disabled"
    net = httpx.get(f"{server_a.api}/network").json()
    assert len(net["places"]) >= 50 and net["vehicles"] and net["sources"]
    assert net["version"] == health["network_version"]


def test_list_and_filter_stations(server_a):
    everything = httpx.get(f"{server_a.api}/stations", params={"limit": 1000}).json()
    assert everything["total"] == len(everything["items"]) > 10
    one = everything["items"][0]
    by_place = httpx.get(f"{server_a.api}/stations", params={"place": one["place_id"]}).json()
    assert by_place["items"] and all(s["place_id"] == one["place_id"] for s in by_place["items"])
    fast = httpx.get(f"{server_a.api}/stations", params={"min_power_kw": 150}).json()
    assert all(max(c["power_kw"] for c in s["connectors"]) >= 150 for s in fast["items"])
    assert httpx.get(f"{server_a.api}/stations", params={"company": "zz"}).json()["total"] == 0
    page = httpx.get(f"{server_a.api}/stations", params={"limit": 2, "offset": 1}).json()
    assert [s["id"] for s in page["items"]] == [s["id"] for s in everything["items"][1:3]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": "many"},
        {"offset": -1},
        {"place": "atlantis"},
        {"min_power_kw": "fast"},
        {"colour": "blue"},
    ],
)
def test_bad_station_queries_are_400(server_a, params):
    problem(httpx.get(f"{server_a.api}/stations", params=params), 400)


def test_create_station_needs_the_admin_token(server_a):
    body = {"place_id": "maceio", "connectors": [{"power_kw": 150, "price_per_kwh": 2.4}]}
    problem(httpx.post(f"{server_a.api}/stations", json=body), 401)
    problem(
        httpx.post(
            f"{server_a.api}/stations", json=body, headers={"Authorization": "Bearer wrong-token"}
        ),
        401,
    )
    r = httpx.post(f"{server_a.api}/stations", json=body, headers=server_a.admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["company"] == "a" and created["place_name"] == "Maceió"
    assert r.headers["location"].endswith(f"/stations/{created['id']}")
    assert created["connectors"][0]["id"] == f"{created['id']}-c1"
    assert httpx.get(f"{server_a.api}/stations/{created['id']}").json() == created


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"place_id": "maceio"},
        {"place_id": "maceio", "connectors": []},
        {"place_id": "maceio", "connectors": [{"power_kw": 5000, "price_per_kwh": 1}]},
        {"place_id": "maceio", "connectors": [{"power_kw": 50}]},
        {"place_id": "nowhere", "connectors": [{"power_kw": 50, "price_per_kwh": 1}]},
        {"place_id": "maceio", "connectors": [{"power_kw": 50, "price_per_kwh": 1}], "extra": 1},
        [1, 2, 3],
        "text",
    ],
)
def test_bad_station_bodies_are_400(server_a, body):
    problem(httpx.post(f"{server_a.api}/stations", json=body, headers=server_a.admin), 400)


def test_malformed_json_and_bad_utf8_are_400(server_a):
    headers = {**server_a.admin, "Content-Type": "application/json"}
    problem(httpx.post(f"{server_a.api}/stations", content=b"{not json", headers=headers), 400)
    problem(
        httpx.post(f"{server_a.api}/stations", content=b'{"place_id": "\xff"}', headers=headers),
        400,
    )


def test_duplicate_and_foreign_station_ids(server_a):
    body = {
        "id": "a-recife-99",
        "place_id": "recife",
        "connectors": [{"power_kw": 50, "price_per_kwh": 1.5}],
    }
    assert (
        httpx.post(f"{server_a.api}/stations", json=body, headers=server_a.admin).status_code == 201
    )
    problem(httpx.post(f"{server_a.api}/stations", json=body, headers=server_a.admin), 409)
    problem(
        httpx.post(
            f"{server_a.api}/stations", json={**body, "id": "b-recife-1"}, headers=server_a.admin
        ),
        422,
    )


def test_unknown_station_is_404_and_bad_id_is_400(server_a):
    problem(httpx.get(f"{server_a.api}/stations/a-nowhere-1"), 404)
    problem(httpx.get(f"{server_a.api}/stations/a-nowhere-1/availability"), 404)
    problem(httpx.get(f"{server_a.api}/stations/UPPER_case"), 400)


def test_availability_shows_free_and_busy_windows(server_a):
    station = httpx.post(
        f"{server_a.api}/stations",
        headers=server_a.admin,
        json={
            "id": "a-recife-98",
            "place_id": "recife",
            "connectors": [{"power_kw": 50, "price_per_kwh": 1.5}],
        },
    ).json()
    connector = station["connectors"][0]["id"]
    t0 = datetime(2030, 5, 1, 8, tzinfo=UTC)
    store = Store(server_a.env["RECARGA_DATABASE_URL"], pool_size=2)
    with store.transaction():
        store.add_reservation(
            Reservation(
                id="r-avail",
                connector_id=connector,
                station_id=station["id"],
                window=Window(t0 + timedelta(hours=1), t0 + timedelta(hours=2)),
                state=ReservationState.CONFIRMED,
                booking_id="b-avail",
            )
        )
    store.close()
    r = httpx.get(
        f"{server_a.api}/stations/{station['id']}/availability",
        params={"from": "2030-05-01T08:00:00Z", "to": "2030-05-01T12:00:00Z"},
    )
    assert r.status_code == 200, r.text
    (c,) = [c for c in r.json()["connectors"] if c["connector_id"] == connector]
    assert c["busy"] == [{"start": "2030-05-01T09:00:00Z", "end": "2030-05-01T10:00:00Z"}]
    assert c["free"] == [
        {"start": "2030-05-01T08:00:00Z", "end": "2030-05-01T09:00:00Z"},
        {"start": "2030-05-01T10:00:00Z", "end": "2030-05-01T12:00:00Z"},
    ]
    # offsets are honoured: 07:00-03:00 is 10:00Z
    r = httpx.get(
        f"{server_a.api}/stations/{station['id']}/availability",
        params={"from": "2030-05-01T07:00:00-03:00", "to": "2030-05-01T11:00:00Z"},
    )
    (c,) = [c for c in r.json()["connectors"] if c["connector_id"] == connector]
    assert c["busy"] == [] and c["free"][0]["start"] == "2030-05-01T10:00:00Z"


@pytest.mark.parametrize(
    "params,status",
    [
        ({"from": "yesterday"}, 400),
        ({"from": "2030-05-01T08:00:00"}, 400),  # no offset
        ({"from": "2030-05-01T08:00:00Z", "to": "2030-05-01T07:00:00Z"}, 422),
        ({"from": "2030-05-01T08:00:00Z", "to": "2030-06-01T08:00:00Z"}, 422),
    ],
)
def test_bad_availability_queries(server_a, params, status):
    station = httpx.get(f"{server_a.api}/stations", params={"limit": 1}).json()["items"][0]
    problem(
        httpx.get(f"{server_a.api}/stations/{station['id']}/availability", params=params), status
    )


def test_405_lists_every_allowed_method(server_a):
    r = httpx.put(f"{server_a.api}/stations")
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_peer_and_admin_operations_refuse_missing_tokens(server_a):
    problem(httpx.get(f"{server_a.api}/peers"), 401)
    problem(httpx.post(f"{server_a.api}/transactions/tx1/commit"), 401)
    problem(
        httpx.post(
            f"{server_a.api}/transactions/tx1/commit",
            headers={"Authorization": "Bearer not-a-peer"},
        ),
        401,
    )


def test_swagger_ui_is_served(server_a):
    r = httpx.get(f"{server_a.api}/ui/")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assert httpx.get(f"{server_a.api}/openapi.json").json()["info"]["title"]


def test_plan_a_trip_over_this_company_stations(server_a):
    body = {
        "origin": "joao-pessoa",
        "destination": "feira-de-santana",
        "departure": "2030-07-01T08:00:00Z",
        "vehicle": {"model_id": "byd-seal", "soc": 0.9},
        "options": 2,
    }
    r = httpx.post(f"{server_a.api}/plans", json=body, timeout=30, headers=server_a.admin)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["companies_asked"] == ["a"]
    assert plan["options"] or plan["infeasible"]
    for option in plan["options"]:
        assert [leg["station_id"] for leg in option["legs"]] == [
            s["station_id"] for s in option["stops"]
        ]
        assert all(s["soc_arrival"] >= 0.1 - 1e-6 for s in option["stops"])


def test_a_trip_is_planned_from_now_never_from_the_past(server_a):
    """No departure: the car leaves now (the contract's example can never go stale); a
    departure in the past is a 422 saying so, over REST as over MQTT (one service rule)."""
    body = {
        "origin": "joao-pessoa",
        "destination": "recife",
        "vehicle": {"model_id": "byd-seal", "soc": 0.9},
        "options": 1,
    }
    before = datetime.now(UTC)
    r = httpx.post(f"{server_a.api}/plans", json=body, headers=server_a.admin, timeout=30)
    assert r.status_code == 200, r.text
    departure = datetime.fromisoformat(r.json()["departure"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= departure <= datetime.now(UTC)
    assert r.json()["options"][0]["totals"]["arrival"] > r.json()["departure"]
    three_days_ago = (before - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    past = problem(
        httpx.post(
            f"{server_a.api}/plans",
            json={**body, "departure": three_days_ago},
            headers=server_a.admin,
        ),
        422,
    )
    assert "in the past" in past["detail"]
    example = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())["paths"]["/plans"][
        "post"
    ]["requestBody"]["content"]["application/json"]["example"]
    assert "departure" not in example
    r = httpx.post(f"{server_a.api}/plans", json=example, headers=server_a.admin, timeout=30)
    assert r.status_code == 200, r.text


def test_a_driving_profile_sets_consumption_and_speed(server_a):
    """Eco drives slower and spends less than aggressive; a measured consumption wins."""

    def totals(vehicle):
        body = {
            "origin": "joao-pessoa",
            "destination": "recife",
            "departure": "2030-07-01T08:00:00Z",
            "vehicle": vehicle,
            "options": 1,
        }
        r = httpx.post(f"{server_a.api}/plans", json=body, timeout=30, headers=server_a.admin)
        assert r.status_code == 200, r.text
        (option,) = r.json()["options"]
        assert option["stops"] == []  # 120 km on 90 %: no charging, only the profile counts
        return option["totals"]

    seal = {"model_id": "byd-seal", "soc": 0.9}
    eco, aggressive = totals({**seal, "profile": "eco"}), totals({**seal, "profile": "aggressive"})
    plain = totals(seal)
    km = plain["distance_km"]
    assert eco["drive_minutes"] == pytest.approx(km / 78 * 60, abs=0.1)
    assert aggressive["drive_minutes"] == pytest.approx(km / 104 * 60, abs=0.1)
    assert plain["drive_minutes"] == pytest.approx(km / 80 * 60, abs=0.1)
    used = {
        name: 0.9 - t["soc_arrival"]
        for name, t in (("eco", eco), ("aggressive", aggressive), ("plain", plain))
    }
    assert used["eco"] < used["plain"] < used["aggressive"]
    assert used["aggressive"] / used["eco"] == pytest.approx(
        (1.16 * (104 / 88) ** 0.6) / (0.88 * (78 / 88) ** 0.6), rel=1e-3
    )
    measured = totals({**seal, "profile": "aggressive", "consumption_kwh_per_km": 0.15})
    assert 0.9 - measured["soc_arrival"] == pytest.approx(km * 0.15 / 82.5, rel=1e-3)


@pytest.mark.parametrize(
    "change,status",
    [
        ({"origin": "atlantis"}, 400),
        ({"vehicle": {"model_id": "byd-seal", "soc": 0.9, "profile": "reckless"}}, 400),
        ({"departure": "2030-07-01T08:00:00"}, 400),
        ({"vehicle": {"soc": 0.5}}, 422),
        ({"vehicle": {"model_id": "byd-seal", "soc": 1.5}}, 400),
        ({"options": 0}, 400),
    ],
)
def test_bad_plan_requests(server_a, change, status):
    body = {
        "origin": "joao-pessoa",
        "destination": "recife",
        "departure": "2030-07-01T08:00:00Z",
        "vehicle": {"model_id": "byd-seal", "soc": 0.9},
        **change,
    }
    problem(httpx.post(f"{server_a.api}/plans", json=body, headers=server_a.admin), status)


def test_control_characters_in_a_path_are_400_not_500(server_a):
    problem(httpx.get(f"{server_a.api}/stations/a%0A"), 400)
    problem(httpx.get(f"{server_a.api}/stations/a%0A/availability"), 400)


def test_control_characters_in_a_station_name_are_400(server_a):
    body = {
        "place_id": "russas",
        "name": "bad\u0000name",
        "connectors": [{"power_kw": 50, "price_per_kwh": 1.5}],
    }
    problem(httpx.post(f"{server_a.api}/stations", json=body, headers=server_a.admin), 400)
