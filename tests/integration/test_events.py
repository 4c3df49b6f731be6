"""Pushes to cars come from the use cases themselves, whichever adapter delivers them."""

from datetime import timedelta

from booking.model import Window, utcnow
from booking.transaction import BookingTx, Mode, TxLeg
from network import load_reference
from recarga.app import wire
from service import coordinator
from service.context import Context
from storage import Store


def test_a_wounded_booking_tells_its_car(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.bind()
    events = []
    ctx = wire(Context(company="a", store=store, reference=load_reference(),
                  notify=lambda company, car, event: events.append((company, car, event))))
    now = utcnow()
    window = Window(now + timedelta(hours=5), now + timedelta(hours=6))
    tx = BookingTx("tx-1", "bk-1", "a", "car-9", Mode.DEFAULT, now,
                   [TxLeg(0, "b", "b-x-1", "b-x-1-c1", window)], now)
    with store.connection():
        store.add_tx(tx)
    assert coordinator.wound(ctx, "tx-1", [0], "taken by booking bk-0 of earlier priority")
    [(company, car, event)] = events
    assert (company, car) == ("a", "car-9")
    assert event["type"] == "booking_preempted" and event["state"] == "aborted"
    assert event["legs"] == [0]
    ctx.pool.shutdown()
    store.close()
