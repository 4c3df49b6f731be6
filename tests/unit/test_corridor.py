"""A plan's corridor and its planner input, without I/O (service.trips)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking.model import Window
from network.reference import load_reference
from service.catalog import Catalog, Part
from service.context import Context
from service.replica import Replica
from service.trips import HORIZON, chargers, corridor

REF = load_reference()
T0 = datetime(2030, 1, 1, 8, tzinfo=UTC)


def _ctx() -> Context:
    ctx = Context(company="a", store=None, reference=REF)  # type: ignore[arg-type]
    ctx.replica = Replica()
    return ctx


def test_the_corridor_keeps_the_places_on_the_way_and_drops_the_far_ones():
    places = corridor(_ctx(), "joao-pessoa", "feira-de-santana")
    assert places is not None
    assert {"joao-pessoa", "recife", "maceio", "aracaju", "feira-de-santana"} <= set(places)
    oracle = REF.distances
    shortest = oracle.row("joao-pessoa")[oracle.index["feira-de-santana"]]
    for pid in set(oracle.ids) - set(places):  # whatever is left out is a long detour
        detour = oracle.row("joao-pessoa")[oracle.index[pid]] + \
            oracle.row("feira-de-santana")[oracle.index[pid]]
        assert detour > shortest + max(150, 0.25 * shortest)
    assert corridor(_ctx(), "nowhere", "recife") is None


def _station(sid: str, place: str, connectors: int) -> dict:
    return {"id": sid, "company": "b", "place_id": place, "connectors": [
        {"id": f"{sid}-c{i}", "power_kw": 150.0, "price_per_kwh": 2.0, "standard": "CCS2"}
        for i in range(1, connectors + 1)]}


def test_busy_connectors_get_their_gaps_and_free_stations_are_shared_between_plans():
    ctx = _ctx()
    span = Window(T0, T0 + HORIZON)
    stations = [_station("b-recife-1", "recife", 2), _station("b-maceio-1", "maceio", 1),
                _station("b-aracaju-1", "aracaju", 1)]
    busy = {"b-recife-1-c2": [((T0 + timedelta(hours=1)).timestamp(),
                               (T0 + timedelta(hours=2)).timestamp())]}
    part = Part("b", 7, stations, {"b-aracaju-1": "offline"}, busy, {"b-recife-1"})
    first = chargers(ctx, Catalog([part], span, ["a", "b"], {}), T0)
    assert [c.station_id for c in first] == ["b-recife-1", "b-maceio-1"]  # offline left out
    busy_one = first[0]
    whole = HORIZON.total_seconds() / 60
    assert busy_one.connectors[0].free == [(0.0, whole)]
    assert busy_one.connectors[1].free == [(0.0, 60.0), (120.0, whole)]
    second = chargers(ctx, Catalog([Part("b", 7, stations, {}, {}, set())], span, [], {}), T0)
    assert second[1] is first[1]  # a free station: one object for every plan
    # the first plan's windows did not touch the shared form; free, its twin connectors are
    # one offer
    assert [c.free for c in second[0].connectors] == [[(0.0, whole)]]
    assert chargers(ctx, Catalog([Part("b", 8, stations, {}, {}, set())], span, [], {}),
                    T0)[1] is not first[1]  # a new catalog version: built again


def test_interchangeable_free_connectors_of_a_company_at_a_place_reach_the_planner_once():
    ctx = _ctx()
    span = Window(T0, T0 + HORIZON)
    stations = [_station("b-recife-1", "recife", 2), _station("b-recife-2", "recife", 2),
                _station("b-maceio-1", "maceio", 2)]
    stations[1]["connectors"][1] = {**stations[1]["connectors"][1], "power_kw": 50.0}
    other = [{**_station("c-recife-1", "recife", 1), "company": "c"}]
    parts = [Part("b", 1, stations, {}, {}, set()), Part("c", 1, other, {}, {}, set())]
    got = chargers(ctx, Catalog(parts, span, [], {}), T0)
    assert [(c.station_id, [x.connector_id for x in c.connectors]) for c in got] == [
        ("b-recife-1", ["b-recife-1-c1"]),     # its second connector is the same offer
        ("b-recife-2", ["b-recife-2-c2"]),     # only its 50 kW connector is new
        ("b-maceio-1", ["b-maceio-1-c1"]),     # another place
        ("c-recife-1", ["c-recife-1-c1"])]     # another company
    # a busy connector always comes with its windows; its free twin then stands for the offer
    busy = {"b-recife-1-c1": [(T0.timestamp(), (T0 + timedelta(hours=1)).timestamp())]}
    parts[0] = Part("b", 1, stations, {}, busy, {"b-recife-1"})
    got = chargers(ctx, Catalog(parts, span, [], {}), T0)
    assert [(c.station_id, [x.connector_id for x in c.connectors]) for c in got][:2] == [
        ("b-recife-1", ["b-recife-1-c1", "b-recife-1-c2"]), ("b-recife-2", ["b-recife-2-c2"])]
