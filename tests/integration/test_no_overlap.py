"""The database itself refuses overlapping active reservations (SPEC §4 'No double booking')."""

import threading
from datetime import UTC, datetime, timedelta

import peewee
import pytest

from booking.errors import Conflict
from booking.messages import PrepareLeg
from booking.model import Reservation, ReservationState, Window
from booking.wire import Prepare
from network import load_reference
from recarga.app import wire
from service.catalogs import stations
from service.company.context import Context
from service.protocol import participant
from storage import Store
from storage import models as m

T0 = datetime(2030, 3, 1, 8, tzinfo=UTC)


@pytest.fixture
def ctx(database_url):
    store = Store(database_url, pool_size=60)
    context = wire(Context(company="a", store=store, reference=load_reference()))
    stations.create_station(
        context, "recife", [{"power_kw": 150, "price_per_kwh": 2.0}], station_id="a-recife-1"
    )
    yield context
    store.close()


def window(start_min, end_min):
    return Window(T0 + timedelta(minutes=start_min), T0 + timedelta(minutes=end_min))


def reserve(ctx, booking_id, w, state=ReservationState.CONFIRMED):
    """One reservation through the repository, in its own unit of work."""
    with ctx.store.transaction():
        ctx.store.add_reservation(
            Reservation(
                id=booking_id,
                connector_id="a-recife-1-c1",
                station_id="a-recife-1",
                window=w,
                state=state,
                booking_id=booking_id,
            )
        )


def test_fifty_threads_race_for_one_window_and_exactly_one_wins(ctx):
    n = 50
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(i):
        # every window covers minute 60, so all pairs overlap
        w = window(30 + i % 20, 61 + i)
        barrier.wait()
        try:
            reserve(ctx, f"booking-{i}", w)
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


def test_a_participant_holds_all_of_its_legs_or_none(ctx):
    reserve(ctx, "first", window(100, 130))
    legs = [
        PrepareLeg(0, "a-recife-1", "a-recife-1-c1", window(0, 30)),
        PrepareLeg(1, "a-recife-1", "a-recife-1-c1", window(120, 150)),
    ]
    vote = participant.prepare(ctx, "tx-second", Prepare("a", "second", T0, "car-2", legs))
    assert vote.held == [] and list(vote.refused) == [1]
    assert "already booked" in vote.refused[1]
    with ctx.store.connection():
        assert [r for r in ctx.store.reservations_of_booking("second") if r.active] == []
    # back-to-back windows are fine: [a, b) and [b, c) do not overlap
    third = participant.prepare(
        ctx,
        "tx-third",
        Prepare(
            "a",
            "third",
            T0,
            "car-3",
            [PrepareLeg(0, "a-recife-1", "a-recife-1-c1", window(130, 160))],
        ),
    )
    assert third.held == [0] and not third.refused


def test_the_database_refuses_an_overlap_written_behind_the_service_layer(ctx):
    reserve(ctx, "first", window(0, 60))
    now = datetime.now(UTC)
    with ctx.store.connection(), pytest.raises(peewee.IntegrityError):
        m.Reservation.insert(
            id="raw",
            connector="a-recife-1-c1",
            station_id="a-recife-1",
            start_at=T0 + timedelta(minutes=30),
            end_at=T0 + timedelta(minutes=90),
            state="confirmed",
            booking_id="raw",
            created_at=now,
            updated_at=now,
        ).execute()
    # inactive reservations may overlap anything
    with ctx.store.connection():
        m.Reservation.insert(
            id="old",
            connector="a-recife-1-c1",
            station_id="a-recife-1",
            start_at=T0,
            end_at=T0 + timedelta(minutes=90),
            state=ReservationState.CANCELLED.value,
            booking_id="old",
            created_at=now,
            updated_at=now,
        ).execute()
        # and reviving an overlapping one is refused too
        with pytest.raises(peewee.IntegrityError):
            m.Reservation.update(state="confirmed").where(m.Reservation.id == "old").execute()


def test_several_holds_in_one_insert_and_only_the_taken_one_refused(ctx):
    """The repository writes a company's legs in one statement; when the database refuses one,
    the others still go in and the refused one is named."""
    reserve(ctx, "first", window(100, 130))
    _holds_one_refused(ctx, "many", (0, 110, 200))
    with ctx.store.transaction():
        assert ctx.store.add_reservations([]) == []


def test_two_holds_of_one_insert_that_overlap_each_other_the_second_refused(ctx):
    _holds_one_refused(ctx, "twins", (300, 310, 400))


def _holds_one_refused(ctx, booking: str, starts: tuple[int, int, int]) -> None:
    """Three 30-minute holds of ``booking`` at these starts in one insert: the second is
    refused, the other two go in, and nothing overlaps."""
    rows = [
        Reservation(
            id=f"{booking}-{i}",
            connector_id="a-recife-1-c1",
            station_id="a-recife-1",
            window=window(start, start + 30),
            state=ReservationState.HELD,
            booking_id=booking,
            leg_index=i,
        )
        for i, start in enumerate(starts)
    ]
    with ctx.store.transaction():
        refused = ctx.store.add_reservations(rows)
    assert [r.leg_index for r in refused] == [1]
    with ctx.store.connection():
        assert sorted(r.leg_index for r in ctx.store.reservations_of_booking(booking)) == [0, 2]
        assert ctx.store.overlapping_pairs() == []


def test_a_duplicate_reservation_id_is_an_error_not_a_taken_window(ctx):
    """Only the no-overlap rule refuses a hold quietly; any other constraint still fails."""
    reserve(ctx, "same-id", window(500, 530))
    with pytest.raises(peewee.IntegrityError), ctx.store.transaction():
        ctx.store.add_reservations(
            [
                Reservation(
                    id="same-id",
                    connector_id="a-recife-1-c1",
                    station_id="a-recife-1",
                    window=window(600, 630),
                    state=ReservationState.HELD,
                    booking_id="other",
                )
            ]
        )
