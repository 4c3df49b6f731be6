"""A driver who loses a race is offered only alternatives the car can use (docs/planning.md,
"Alternatives for a refused leg"): three real servers, a planned trip booked with its `trip`,
a rival taking one of its windows first. Every alternative offered is re-simulated here with
the trip (an oracle of the tests' own: Floyd distances, charging integrated step by step), and
taking the first one ends in a confirmed booking whose trip is safe."""

from __future__ import annotations

from datetime import datetime

import pytest

from network.reference import load_reference
from planning import Car, TripRequest
from tests.federation import BR101, Federation, at
from tests.planner_cases import floyd
from tests.unit.test_replacement import _drive

VEHICLE = {"model_id": "byd-dolphin", "soc": 0.8}


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    federation = Federation(tmp_path_factory.mktemp("alternatives"), in_process=True)
    federation.start()
    for company, places in BR101.items():
        for place in places:
            federation.add_station(company, place, connectors=2)
    yield federation
    federation.close()


@pytest.fixture(scope="module")
def oracle():
    reference = load_reference()
    return reference, floyd(reference.network)


def _minutes(text: str, zero: datetime) -> float:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - zero).total_seconds() / 60


def _safe(oracle, trip: dict, legs: list[dict], powers: dict[str, tuple[float, str]]) -> bool:
    """The trip driven with ``legs`` (each at its connector's power for this car: AC through
    its on-board charger) by the oracle: never below the reserve, the charge asked on
    arrival, every window reached."""
    reference, d = oracle
    model = reference.vehicles[trip["vehicle"]["model_id"]]
    car = Car(model.battery_kwh, model.consumption_kwh_per_km, model.max_charge_kw, model.max_ac_kw)
    zero = datetime.fromisoformat(trip["departure"].replace("Z", "+00:00"))
    req = TripRequest(
        trip["origin"],
        trip["destination"],
        zero,
        car,
        soc=trip["vehicle"]["soc"],
        reserve_soc=trip.get("reserve_soc", 0.1),
    )
    stops = [
        (
            leg["station_id"][len(leg["company"]) + 1 :].rsplit("-", 1)[0],
            min(
                powers[leg["connector_id"]][0],
                car.max_ac_kw if powers[leg["connector_id"]][1] == "Type2" else car.max_charge_kw,
            ),
            _minutes(leg["start"], zero),
            _minutes(leg["end"], zero),
        )
        for leg in legs
    ]
    return _drive(d, req, stops)[3]


def _plan(fed, departure_min: float) -> dict:
    r = fed.plan(
        "b",
        {
            "origin": "joao-pessoa",
            "destination": "aracaju",
            "departure": at(departure_min),
            "vehicle": VEHICLE,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trip"]["departure"] == at(departure_min) and body["options"], body
    return body


def _powers(fed) -> dict[str, tuple[float, str]]:
    out = {}
    for company in fed.servers:
        r = fed.http.get(f"{fed.api(company)}/stations", params={"limit": 200}, timeout=30)
        for s in r.json()["items"]:
            out.update({c["id"]: (c["power_kw"], c["standard"]) for c in s["connectors"]})
    return out


@pytest.mark.parametrize("mode,departure", [("default", 2000), ("hold", 3000)])
def test_a_race_loser_is_offered_only_alternatives_that_charge_the_car_in_time(
    fed, oracle, mode, departure
):
    plan = _plan(fed, departure)
    option = plan["options"][0]
    assert _safe(oracle, plan["trip"], option["legs"], _powers(fed)), "the plan itself"
    # the stop that charges most is lost to a rival; a slow AC charger stands at its town
    lost = max(range(len(option["stops"])), key=lambda i: option["stops"][i]["energy_kwh"])
    contested = option["legs"][lost]
    town = option["stops"][lost]["place_id"]
    slow = fed.http.post(
        f"{fed.api('c')}/stations",
        headers=fed.servers["c"].admin,
        json={
            "place_id": town,
            "connectors": [{"power_kw": 22, "price_per_kwh": 1.0, "standard": "Type2"}],
        },
    )
    assert slow.status_code == 201, slow.text
    rival = fed.book("a", {"car_id": f"rival-{mode}", "legs": [contested]})
    assert rival.status_code == 201, rival.text

    r = fed.book(
        "b",
        {
            "car_id": f"loser-{mode}",
            "mode": mode,
            "legs": option["legs"],
            "trip": plan["trip"],
        },
        timeout=60,
    )
    assert r.status_code == 409, r.text
    problem = r.json()
    [conflict] = problem["conflicts"]
    assert conflict["leg_index"] == lost
    offered = conflict["alternatives"]
    assert offered, conflict  # its twin connector is free in the same window
    powers = _powers(fed)
    for alt in offered:
        assert alt["checked_against"] == "trip"
        legs = [*option["legs"][:lost], alt, *option["legs"][lost + 1 :]]
        assert _safe(oracle, plan["trip"], legs, powers), alt
        assert alt["connector_id"] != contested["connector_id"] or alt["start"] >= contested["end"]
    # the 22 kW AC charger (6.6 kW for this car) cannot give in the lost window what a
    # 150 kW one gives: offered, if at all, for much longer
    span = _minutes(contested["end"], _zero()) - _minutes(contested["start"], _zero())
    assert all(
        _minutes(a["end"], _zero()) - _minutes(a["start"], _zero()) > 3 * span
        for a in offered
        if a["power_kw"] == 22
    )
    delays = [a["delay_minutes"] for a in offered]
    assert delays == sorted(delays)

    first = offered[0]
    choice = {k: first[k] for k in ("company", "station_id", "connector_id", "start", "end")}
    if mode == "default":
        assert problem["state"] == "aborted"
        legs = [*option["legs"][:lost], choice, *option["legs"][lost + 1 :]]
        done = fed.book(
            "b", {"car_id": f"loser-{mode}", "legs": legs, "trip": plan["trip"]}, timeout=60
        )
        assert done.status_code == 201, done.text
    else:
        assert problem["state"] == "held"
        done = fed.http.patch(
            f"{fed.api('b')}/bookings/{problem['booking_id']}",
            headers=fed.driver["b"],
            timeout=60,
            json={"legs": [{"leg_index": lost, **choice}]},
        )
        assert done.status_code == 200, done.text
    booking = done.json()
    assert booking["state"] == "confirmed"
    assert _safe(
        oracle, plan["trip"], sorted(booking["legs"], key=lambda x: x["leg_index"]), powers
    )


def test_a_leg_with_no_workable_alternative_says_why_and_offers_a_replan(fed):
    plan = _plan(fed, 4000)
    option = plan["options"][0]
    contested = option["legs"][0]
    station = fed.http.get(
        f"{fed.api(contested['company'])}/stations/{contested['station_id']}", timeout=30
    ).json()
    # the rival takes every connector of the first stop, from its window to hours later
    for c in station["connectors"]:
        taken = fed.book(
            "a",
            {
                "car_id": "rival-all",
                "legs": [
                    {
                        **contested,
                        "connector_id": c["id"],
                        "end": at(_offset(contested["start"]) + 600),
                    }
                ],
            },
        )
        assert taken.status_code == 201, taken.text
    r = fed.book(
        "b", {"car_id": "loser-none", "legs": option["legs"], "trip": plan["trip"]}, timeout=60
    )
    assert r.status_code == 409, r.text
    problem = r.json()
    [conflict] = problem["conflicts"]
    assert conflict["alternatives"] == [] and conflict["no_alternative"], conflict
    assert problem["replan"]["origin"] == "joao-pessoa"
    again = fed.plan("b", problem["replan"])
    assert again.status_code == 200, again.text
    assert all(
        leg["station_id"] != contested["station_id"]
        or leg["start"] >= at(_offset(contested["start"]) + 600)
        for o in again.json()["options"]
        for leg in o["legs"]
    )


def _zero() -> datetime:
    return datetime.fromisoformat(at(0).replace("Z", "+00:00"))


def _offset(text: str) -> float:
    return _minutes(text, _zero())
