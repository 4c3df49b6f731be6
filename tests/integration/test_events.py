"""Pushes to cars come from the use cases themselves, whichever adapter delivers them."""

from network import load_reference
from recarga.app import wire
from service.company.context import Context
from service.protocol import coordinator
from storage import Store
from tests.integration.transactions import add_one_leg_tx


def test_a_wounded_booking_tells_its_car(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    events = []
    ctx = wire(
        Context(
            company="a",
            store=store,
            reference=load_reference(),
            notify=lambda company, car, event: events.append((company, car, event)),
        )
    )
    add_one_leg_tx(store, "car-9", "b", "b-x-1")
    assert coordinator.wound(ctx, "tx-1", [0], "taken by booking bk-0 of earlier priority")
    [(company, car, event)] = events
    assert (company, car) == ("a", "car-9")
    assert event["type"] == "booking_preempted" and event["state"] == "aborted"
    assert event["legs"] == [0]
    ctx.pool.shutdown()
    store.close()
