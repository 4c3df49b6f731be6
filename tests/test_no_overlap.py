"""The database itself refuses overlapping active reservations (SPEC §4 'No double booking')."""

import threading
from datetime import UTC, datetime, timedelta

import peewee
import pytest

from booking.errors import Conflict
from booking.model import ReservationState, Window, WindowRequest
from network import load_reference
from service import reservations, stations
from service.context import Context
from storage import Store
from storage import models as m

T0 = datetime(2030, 3, 1, 8, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def ctx(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'company.db'}"
    store = Store(url, pool_size=60)
    store.bind()
    context = Context(company="a", store=store, reference=load_reference())
    stations.create_station(context, "recife", [{"power_kw": 150, "price_per_kwh": 2.0}],
                            station_id="a-recife-1")
    yield context
    store.close()


def window(start_min, end_min):
    return Window(T0 + timedelta(minutes=start_min), T0 + timedelta(minutes=end_min))


def test_fifty_threads_race_for_one_window_and_exactly_one_wins(ctx):
    n = 50
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(i):
        # every window covers minute 60, so all pairs overlap
        req = WindowRequest("a-recife-1-c1", window(30 + i % 20, 61 + i))
        barrier.wait()
        try:
            reservations.reserve_windows(ctx, f"booking-{i}", [req])
            result = "won"
        except Conflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == n - 1
    with ctx.store.connection():
        assert ctx.store.overlapping_pairs() == []
        assert m.Reservation.select().count() == 1


def test_all_or_nothing_when_one_window_is_taken(ctx):
    reservations.reserve_windows(ctx, "first", [WindowRequest("a-recife-1-c1", window(100, 130))])
    with pytest.raises(Conflict) as info:
        reservations.reserve_windows(ctx, "second", [
            WindowRequest("a-recife-1-c1", window(0, 30)),
            WindowRequest("a-recife-1-c1", window(120, 150)),
        ])
    assert [c["leg_index"] for c in info.value.extra["conflicts"]] == [1]
    with ctx.store.connection():
        assert ctx.store.reservations_of_booking("second") == []
    # back-to-back windows are fine: [a, b) and [b, c) do not overlap
    reservations.reserve_windows(ctx, "third", [WindowRequest("a-recife-1-c1", window(130, 160))])


def test_the_database_refuses_an_overlap_written_behind_the_service_layer(ctx):
    reservations.reserve_windows(ctx, "first", [WindowRequest("a-recife-1-c1", window(0, 60))])
    now = datetime.now(UTC)
    with ctx.store.connection(), pytest.raises(peewee.IntegrityError):
        m.Reservation.insert(
            id="raw", connector="a-recife-1-c1", station_id="a-recife-1",
            start_at=T0 + timedelta(minutes=30), end_at=T0 + timedelta(minutes=90),
            state="confirmed", booking_id="raw", created_at=now, updated_at=now).execute()
    # inactive reservations may overlap anything
    with ctx.store.connection():
        m.Reservation.insert(
            id="old", connector="a-recife-1-c1", station_id="a-recife-1",
            start_at=T0, end_at=T0 + timedelta(minutes=90),
            state=ReservationState.CANCELLED.value, booking_id="old",
            created_at=now, updated_at=now).execute()
        # and reviving an overlapping one is refused too
        with pytest.raises(peewee.IntegrityError):
            m.Reservation.update(state="confirmed").where(m.Reservation.id == "old").execute()
