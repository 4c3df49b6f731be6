"""Planner behaviour on the real network and on edge cases."""

from datetime import UTC, datetime

import pytest

from network import load_reference
from network.distances import RoadDistances
from planning import Car, Charger, ChargerConnector, TripRequest, plan

REF = load_reference()
NET = REF.network
DIST = RoadDistances(NET)
DEP = datetime(2026, 12, 1, 8, tzinfo=UTC)
DOLPHIN = REF.vehicles["byd-dolphin"]
CAR = Car(
    DOLPHIN.battery_kwh, DOLPHIN.consumption_kwh_per_km, DOLPHIN.max_charge_kw, DOLPHIN.max_ac_kw
)
ALWAYS = [(0.0, 10_000.0)]


def charger(company, place, power=60.0, free=ALWAYS, n=1):
    sid = f"{company}-{place}-1"
    return Charger(
        sid,
        company,
        place,
        [ChargerConnector(f"{sid}-c{i}", power, 2.0, "CCS2", list(free)) for i in range(1, n + 1)],
    )


def trip(origin, destination, soc=0.8, **kw):
    return TripRequest(origin, destination, DEP, CAR, soc, **kw)


def br101_chargers():
    """One charger per BR-101 town, companies A north, B middle, C south."""
    places = [
        "goiana",
        "recife",
        "palmares",
        "maceio",
        "sao-miguel-dos-campos",
        "propria",
        "aracaju",
        "estancia",
        "esplanada",
        "alagoinhas",
    ]
    owner = (
        {p: "a" for p in places[:3]} | {p: "b" for p in places[3:6]} | {p: "c" for p in places[6:]}
    )
    return [charger(owner[p], p) for p in places]


def test_joao_pessoa_to_feira_de_santana_needs_several_stops_at_different_companies():
    result = plan(NET, br101_chargers(), trip("joao-pessoa", "feira-de-santana"), DIST)
    assert result.options, result.infeasible
    best = result.options[0]
    assert best.label == "fastest" and len(best.stops) >= 3
    assert len({s.company for s in best.stops}) >= 2
    assert best.route[0] == "joao-pessoa" and best.route[-1] == "feira-de-santana"
    t = 0.0
    for stop in best.stops:  # coherent, increasing schedule
        assert stop.arrival_min >= t and stop.start_min >= stop.arrival_min
        assert stop.end_min > stop.start_min and stop.soc_arrival >= 0.1 - 1e-9
        t = stop.end_min
    assert best.total_min > t and best.soc_arrival >= 0.1 - 1e-9
    labels = [o.label for o in result.options]
    assert len(set(labels)) == len(labels)


def test_origin_equals_destination():
    result = plan(NET, [], trip("recife", "recife"), DIST)
    assert result.options[0].stops == [] and result.options[0].total_min == 0


def test_no_station_needed_for_a_short_trip():
    result = plan(NET, br101_chargers(), trip("joao-pessoa", "recife"), DIST)
    best = result.options[0]
    assert best.stops == [] and best.distance_km == pytest.approx(123)


def test_unreachable_destination_says_why():
    result = plan(NET, [], trip("joao-pessoa", "feira-de-santana"), DIST)
    assert result.options == []
    assert "km" in result.infeasible and "João Pessoa" in result.infeasible
    gap = plan(NET, [charger("a", "recife")], trip("joao-pessoa", "feira-de-santana"), DIST)
    assert "Recife" in gap.infeasible and "exceeds the usable range" in gap.infeasible


def test_a_gap_too_long_even_on_a_full_charge_does_not_blame_the_current_charge():
    """A charger at the origin does not help a car whose full range is shorter than the road."""
    small = Car(26.8, 0.16, 30.0, 6.6)  # about 150 km of usable range; Natal → João Pessoa 185 km
    for chargers in ([], [charger("a", "natal")]):
        result = plan(NET, chargers, TripRequest("natal", "joao-pessoa", DEP, small, 0.8), DIST)
        assert result.options == []
        assert "185 km to the destination exceeds the usable range" in result.infeasible
        assert "full charge" in result.infeasible and "current" not in result.infeasible
    # with enough range, the charger at the origin is where the car charges before leaving
    start_low = TripRequest("natal", "joao-pessoa", DEP, CAR, 0.3)
    result = plan(NET, [charger("a", "natal")], start_low, DIST)
    assert [s.place_id for s in result.options[0].stops] == ["natal"]


def test_a_busy_connector_forces_a_wait():
    free_later = [(300.0, 10_000.0)]
    chargers = [charger("a", "maceio", free=free_later)]
    result = plan(NET, chargers, trip("palmares", "aracaju", soc=0.9), DIST)
    best = result.options[0]
    (stop,) = best.stops
    assert stop.start_min == pytest.approx(300.0) and stop.wait_min > 0
    assert best.wait_min == pytest.approx(stop.wait_min)


def test_a_busy_connector_sends_the_car_to_another_station_when_waiting_is_slower():
    chargers = [
        charger("a", "maceio", free=[(2_000.0, 10_000.0)]),
        charger("b", "sao-miguel-dos-campos"),
    ]
    best = plan(NET, chargers, trip("palmares", "aracaju", soc=0.9), DIST).options[0]
    assert [s.station_id for s in best.stops] == ["b-sao-miguel-dos-campos-1"]
    # with the first station free, it is the faster choice (it is nearer the start)
    chargers[0] = charger("a", "maceio")
    options = plan(NET, chargers, trip("palmares", "aracaju", soc=0.9), DIST).options
    assert options[0].stops[0].wait_min == 0


def test_a_station_with_zero_free_windows_is_never_used():
    chargers = [charger("a", "maceio", free=[])]
    result = plan(NET, chargers, trip("palmares", "aracaju", soc=0.9), DIST)
    assert result.options == []
    assert "busy" in result.infeasible or "exceeds" in result.infeasible


def test_avoided_companies_are_left_out():
    result = plan(
        NET,
        br101_chargers(),
        trip("joao-pessoa", "feira-de-santana", avoid_companies=frozenset({"b"})),
        DIST,
    )
    for option in result.options:
        assert all(s.company != "b" for s in option.stops)
