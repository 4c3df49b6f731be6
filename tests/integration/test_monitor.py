"""The console's read views on both engines: what they show, and that their versions change
exactly when what they show does (a console's poll gets 304 otherwise)."""

from datetime import timedelta

import pytest

from booking.model import Connector, Reservation, ReservationState, Station, Window, utcnow
from network import load_reference
from recarga.app import wire
from service import monitor
from service.company.context import Context
from storage import Store
from tests.integration.transactions import add_one_leg_tx


@pytest.fixture
def company(database_url):
    """Company A with one station of two connectors, on each engine."""
    store = Store(database_url)
    ctx = wire(Context(company="a", store=store, reference=load_reference()))
    station = Station(
        id="a-natal-1",
        company="a",
        place_id="natal",
        name="A Natal 1",
        lat=0.0,
        lon=0.0,
        connectors=(
            Connector("a-natal-1-c1", "a-natal-1", 150.0, 2.0),
            Connector("a-natal-1-c2", "a-natal-1", 50.0, 1.5),
        ),
    )
    with store.transaction():
        store.add_station(station)
    yield ctx, store
    ctx.pool.shutdown()
    store.close()


def _reservation(rid: str, start, state=ReservationState.CONFIRMED) -> Reservation:
    now = utcnow()
    return Reservation(
        id=rid,
        connector_id="a-natal-1-c1",
        station_id="a-natal-1",
        window=Window(start, start + timedelta(minutes=30)),
        state=state,
        booking_id=f"bk-{rid}",
        tx_id=None,
        leg_index=0,
        car_id="car-1",
        priority_at=now,
        hold_expires_at=None,
        created_at=now,
    )


def test_the_timeline_shows_every_state_and_its_version_follows_each_change(company):
    ctx, store = company
    span = monitor.timeline_span(ctx)
    soon = utcnow() + timedelta(hours=2)
    empty = monitor.timeline_version(ctx, span)
    ctx.views.clear()  # past the half second a version is shared
    with store.transaction():
        store.add_reservation(_reservation("r1", soon))
        store.add_reservation(_reservation("r2", soon + timedelta(days=3)))  # outside
    ctx.views.clear()
    added = monitor.timeline_version(ctx, span)
    assert added != empty
    ctx.views.clear()
    assert monitor.timeline_version(ctx, span) == added  # nothing changed: the same
    body = monitor.timeline(ctx, span, added)
    assert [(r["id"], r["state"], r["coordinator"]) for r in body["reservations"]] == [
        ("r1", "confirmed", "a")
    ]
    with store.transaction():
        store.set_reservation_state(["r1"], ReservationState.CANCELLED)
    ctx.views.clear()
    cancelled = monitor.timeline_version(ctx, span)
    assert cancelled != added
    assert monitor.timeline(ctx, span, cancelled)["reservations"][0]["state"] == "cancelled"


def test_the_map_shows_statuses_and_the_stations_follow_the_catalog_version(company):
    ctx, store = company
    versions = monitor.catalog_versions(ctx)
    listed = monitor.federation_stations(ctx, versions)["stations"]
    assert [(s["id"], s["connectors"], s["max_power_kw"]) for s in listed] == [
        ("a-natal-1", 2, 150.0)
    ]
    place = ctx.reference.network.places["natal"]
    assert (listed[0]["lat"], listed[0]["lon"]) == (place.lat, place.lon)
    assert monitor.federation_map(ctx)["status"] == {}
    with store.transaction():
        store.set_station_status("a-natal-1", "offline")
    ctx.views.clear()  # past the half second a map is shared
    assert monitor.federation_map(ctx)["status"] == {"a-natal-1": "offline"}
    assert monitor.catalog_versions(ctx) == versions  # a status is not a catalog change
    with store.transaction():
        store.update_station("a-natal-1", "A Natal renamed", {})
    assert monitor.catalog_versions(ctx) != versions


def test_the_federation_panel_times_each_decision(company):
    ctx, store = company
    add_one_leg_tx(store, "car-1", "a", "a-natal-1")
    [row] = monitor.federation(ctx)["transactions"]
    assert (row["state"], row["duration_ms"], row["companies"]) == ("preparing", None, ["a"])
    store.update_tx("tx-1", lambda t: t.abort("test"))
    ctx.views.clear()  # past the second the panel is shared
    [row] = monitor.federation(ctx)["transactions"]
    assert row["state"] == "aborted" and row["decision"] == "abort"
    assert row["duration_ms"] is not None and row["duration_ms"] >= 0
