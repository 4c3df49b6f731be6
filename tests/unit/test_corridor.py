"""A plan's corridor and its planner input, without I/O (service.catalogs.trips)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from booking.availability import gaps
from booking.model import Window
from network.reference import load_reference
from planning import Car, Charger, ChargerConnector, TripRequest, plan
from service.catalogs.catalog import Catalog, Part
from service.catalogs.peer_catalogs import PeerCatalogs
from service.catalogs.trips import HORIZON, chargers, corridor
from service.company.context import Context

REF = load_reference()
T0 = datetime(2030, 1, 1, 8, tzinfo=UTC)


def _ctx() -> Context:
    ctx = Context(company="a", store=None, reference=REF)  # type: ignore[arg-type]
    ctx.catalogs = PeerCatalogs()
    return ctx


def test_the_corridor_keeps_the_places_on_the_way_and_drops_the_far_ones():
    places = corridor(_ctx(), "joao-pessoa", "feira-de-santana")
    assert places is not None
    assert {"joao-pessoa", "recife", "maceio", "aracaju", "feira-de-santana"} <= set(places)
    oracle = REF.distances
    shortest = oracle.row("joao-pessoa")[oracle.index["feira-de-santana"]]
    for pid in set(oracle.ids) - set(places):  # whatever is left out is a long detour
        detour = (
            oracle.row("joao-pessoa")[oracle.index[pid]]
            + oracle.row("feira-de-santana")[oracle.index[pid]]
        )
        assert detour > shortest + max(150, 0.25 * shortest)
    assert corridor(_ctx(), "nowhere", "recife") is None


def _station(sid: str, place: str, connectors: int) -> dict:
    return {
        "id": sid,
        "company": "b",
        "place_id": place,
        "connectors": [
            {"id": f"{sid}-c{i}", "power_kw": 150.0, "price_per_kwh": 2.0, "standard": "CCS2"}
            for i in range(1, connectors + 1)
        ],
    }


def _offers(got) -> list[tuple[str, list[str]]]:
    return [(c.station_id, [x.connector_id for x in c.connectors]) for c in got]


def test_a_busy_connector_comes_with_its_gaps_when_its_offer_has_no_free_twin():
    ctx = _ctx()
    span = Window(T0, T0 + HORIZON)
    stations = [
        _station("b-recife-1", "recife", 2),
        _station("b-maceio-1", "maceio", 1),
        _station("b-aracaju-1", "aracaju", 1),
    ]
    stations[0]["connectors"][1] = {**stations[0]["connectors"][1], "power_kw": 50.0}
    busy = {
        "b-recife-1-c2": [
            ((T0 + timedelta(hours=1)).timestamp(), (T0 + timedelta(hours=2)).timestamp())
        ]
    }
    part = Part("b", 7, stations, {"b-aracaju-1": "offline"}, busy, {"b-recife-1"})
    first = chargers(ctx, Catalog([part], span, ["a", "b"], {}), T0)
    assert _offers(first) == [
        ("b-recife-1", ["b-recife-1-c1"]),  # offline left out
        ("b-recife-1", ["b-recife-1-c2"]),
        ("b-maceio-1", ["b-maceio-1-c1"]),
    ]
    whole = HORIZON.total_seconds() / 60
    assert first[0].connectors[0].free == [(0.0, whole)]
    assert first[1].connectors[0].free == [(0.0, 60.0), (120.0, whole)]
    second = chargers(ctx, Catalog([Part("b", 7, stations, {}, {}, set())], span, [], {}), T0)
    assert second[0] is first[0] and second[2] is first[2]  # free: one object for every plan
    # the first plan's windows did not touch the shared form
    assert second[1].connectors[0].free == [(0.0, whole)]
    assert (
        chargers(ctx, Catalog([Part("b", 8, stations, {}, {}, set())], span, [], {}), T0)[0]
        is not first[0]
    )  # a new catalog version: built again


def test_interchangeable_connectors_of_a_company_at_a_place_reach_the_planner_once():
    ctx = _ctx()
    span = Window(T0, T0 + HORIZON)
    stations = [
        _station("b-recife-1", "recife", 2),
        _station("b-recife-2", "recife", 2),
        _station("b-maceio-1", "maceio", 2),
    ]
    stations[1]["connectors"][1] = {**stations[1]["connectors"][1], "power_kw": 50.0}
    other = [{**_station("c-recife-1", "recife", 1), "company": "c"}]
    parts = [Part("b", 1, stations, {}, {}, set()), Part("c", 1, other, {}, {}, set())]
    assert _offers(chargers(ctx, Catalog(parts, span, [], {}), T0)) == [
        ("b-recife-1", ["b-recife-1-c1"]),  # c2 and b-recife-2's c1: the same offer
        ("b-recife-2", ["b-recife-2-c2"]),  # its 50 kW connector is another offer
        ("b-maceio-1", ["b-maceio-1-c1"]),  # another place
        ("c-recife-1", ["c-recife-1-c1"]),
    ]  # another company
    # busy, a connector gives way to its first twin that is free throughout (it is dominated:
    # same charge and price, never an earlier start) ...
    hour = [(T0.timestamp(), (T0 + timedelta(hours=1)).timestamp())]
    parts[0] = Part("b", 1, stations, {}, {"b-recife-1-c1": hour}, {"b-recife-1"})
    assert _offers(chargers(ctx, Catalog(parts, span, [], {}), T0))[:2] == [
        ("b-recife-1", ["b-recife-1-c2"]),
        ("b-recife-2", ["b-recife-2-c2"]),
    ]
    # ... and when none is, every busy one comes with its own windows (an offline one never)
    busy = {c: hour for c in ("b-recife-1-c1", "b-recife-1-c2", "b-recife-2-c1")}
    parts[0] = Part("b", 1, stations, {"b-recife-2": "offline"}, busy, {"b-recife-1"})
    got = chargers(ctx, Catalog(parts, span, [], {}), T0)
    assert _offers(got)[:2] == [
        ("b-recife-1", ["b-recife-1-c1"]),
        ("b-recife-1", ["b-recife-1-c2"]),
    ]
    assert [c.connectors[0].free for c in got[:2]] == [[(60.0, HORIZON.total_seconds() / 60)]] * 2
    # only the places a plan asked about
    parts[0] = Part("b", 1, stations, {}, {}, set(), stations, ["maceio"])
    assert _offers(chargers(ctx, Catalog(parts[:1], span, [], {}), T0)) == [
        ("b-maceio-1", ["b-maceio-1-c1"])
    ]


def test_one_option_per_offer_plans_exactly_as_fast_as_every_connector_with_its_windows():
    """The dominance argument checked: on random catalogs where most connectors are busy at
    some time, the fastest plan over the offers takes exactly as long as over every connector
    with its own free windows, and each of its stops lies in a free window of its connector."""
    rng = random.Random(17)
    span = Window(T0, T0 + HORIZON)
    whole = HORIZON.total_seconds() / 60
    places = corridor(_ctx(), "joao-pessoa", "feira-de-santana")
    assert places is not None
    req = TripRequest(
        origin="joao-pessoa",
        destination="feira-de-santana",
        departure=T0,
        car=Car(50.0, 0.17, 120.0),
        soc=0.8,
        options=1,
    )
    planned = on_busy = 0
    for case in range(40):
        stations, busy = [], {}
        for n in range(rng.randint(15, 60)):
            sid, place = f"b-{case}-{n}", rng.choice(places)
            connectors = []
            for k in range(rng.randint(1, 3)):
                power = rng.choice([50.0, 150.0])
                connectors.append(
                    {
                        "id": f"{sid}-c{k}",
                        "power_kw": power,
                        "price_per_kwh": round(1.2 + power / 150, 2),
                        "standard": "CCS2",
                    }
                )
                if rng.random() < 0.7:
                    starts = sorted(rng.uniform(0, 14 * 60) for _ in range(rng.randint(1, 4)))
                    busy[f"{sid}-c{k}"] = [
                        (
                            (T0 + timedelta(minutes=a)).timestamp(),
                            (T0 + timedelta(minutes=a + rng.uniform(20, 240))).timestamp(),
                        )
                        for a in starts
                    ]
            stations.append(
                {"id": sid, "company": "b", "place_id": place, "connectors": connectors}
            )
        part = Part("b", case, stations, {}, busy, None, stations, None)
        offers = chargers(_ctx(), Catalog([part], span, ["b"], {}), T0)
        free = {
            c["id"]: gaps(
                [
                    ((a - T0.timestamp()) / 60, (b - T0.timestamp()) / 60)
                    for a, b in busy.get(c["id"], [])
                ],
                0.0,
                whole,
            )
            for item in stations
            for c in item["connectors"]
        }
        every = [
            Charger(
                item["id"],
                "b",
                item["place_id"],
                [
                    ChargerConnector(
                        c["id"], c["power_kw"], c["price_per_kwh"], "CCS2", free[c["id"]]
                    )
                    for c in item["connectors"]
                ],
            )
            for item in stations
        ]
        assert sum(len(c.connectors) for c in offers) < sum(len(c.connectors) for c in every)
        got = plan(REF.network, offers, req, REF.distances)
        want = plan(REF.network, every, req, REF.distances)
        assert bool(got.options) == bool(want.options), (case, got.infeasible, want.infeasible)
        if not want.options:
            continue
        planned += 1
        assert math.isclose(got.options[0].total_min, want.options[0].total_min, abs_tol=1e-6), case
        for stop in got.options[0].stops:
            assert any(
                a - 1e-6 <= stop.start_min and stop.end_min <= b + 1e-6
                for a, b in free[stop.connector_id]
            ), (case, stop)
        on_busy += any(free[s.connector_id] != [(0.0, whole)] for s in got.options[0].stops)
    assert planned >= 20 and on_busy >= 10  # contention: plans that stop at busy connectors
