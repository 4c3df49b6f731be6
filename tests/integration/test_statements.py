"""A statement built once answers as peewee building it per call does, on both engines: values
converted by their columns (times on SQLite are text), lists of any length, one text per shape
built once and reused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.model import Connector, Reservation, ReservationState, Station, Window
from storage import Store, statements
from storage import models as m
from storage.statements import Slot, Statement, slots

T0 = datetime(2030, 3, 1, 8, tzinfo=UTC)
R = m.Reservation


@pytest.fixture
def store(database_url):
    s = Store(database_url)
    connectors = tuple(Connector(c, "s1", 50.0, 1.0) for c in ("c1", "c2", "c3"))
    with s.transaction():
        s.add_station(Station("s1", "a", "recife", "S1", 0.0, 0.0, connectors=connectors))
        for n, c in enumerate(connectors):
            s.add_reservation(
                Reservation(
                    id=f"r{n}",
                    connector_id=c.id,
                    station_id="s1",
                    window=Window(T0 + timedelta(hours=n), T0 + timedelta(hours=n + 1)),
                    state=ReservationState.CONFIRMED,
                    booking_id=f"b{n}",
                )
            )
    yield s
    s.close()


def _built(counter: list):
    def build(sqlite: bool, count: int):
        counter.append(count)
        return (
            R.select()
            .where(R.connector.in_(slots("ids", count)), R.start_at >= Slot("after"))
            .order_by(R.start_at)
        )

    return build


def test_the_same_rows_as_peewee_built_per_call(store):
    built: list = []
    statement = Statement(_built(built))
    with store.connection():
        for ids, after in (
            (["c1", "c3"], T0),
            (["c2", "c3"], T0 + timedelta(minutes=90)),
            (["c1"], T0),
        ):
            rows = list(statement.rows(store.db, (len(ids),), ids=ids, after=after))
            expected = list(
                R.select().where(R.connector.in_(ids), R.start_at >= after).order_by(R.start_at)
            )
            assert [(r.id, r.start_at, r.connector_id) for r in rows] == [
                (r.id, r.start_at, r.connector_id) for r in expected
            ]
            assert all(r.start_at.tzinfo is not None for r in rows)
    assert built == [2, 1]  # one text per length of the list, built once


def test_an_update_fills_its_slots_converted_by_their_columns(store):
    update = Statement(
        lambda sqlite: R.update({R.end_at: Slot("end", field=R.end_at)}).where(R.id == Slot("id"))
    )
    later = T0 + timedelta(hours=5)
    with store.transaction():
        assert update.execute(store.db, id="r0", end=later).rowcount == 1
        assert update.execute(store.db, id="nobody", end=later).rowcount == 0
    with store.connection():
        assert R.get_by_id("r0").end_at == later


def test_built_per_call_when_switched_off(store, monkeypatch):
    built: list = []
    statement = Statement(_built(built))
    monkeypatch.setattr(statements, "BUILD_ONCE", False)
    with store.connection():
        for _ in range(3):
            assert [r.id for r in statement.rows(store.db, (1,), ids=["c1"], after=T0)] == ["r0"]
    assert built == [1, 1, 1]
