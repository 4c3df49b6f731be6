"""Test data for the integration tests: a logged booking transaction."""

from __future__ import annotations

from datetime import timedelta

from booking.model import Window, utcnow
from booking.transaction import BookingTx, LegState, Mode, TxLeg, TxState


def add_one_leg_tx(store, car_id: str, leg_company: str, station_id: str) -> BookingTx:
    """Booking ``bk-1`` (transaction ``tx-1``) coordinated by A, preparing, its one leg at
    ``station_id``'s first connector five to six hours from now, logged in ``store``."""
    now = utcnow()
    window = Window(now + timedelta(hours=5), now + timedelta(hours=6))
    tx = BookingTx(
        "tx-1",
        "bk-1",
        "a",
        car_id,
        Mode.DEFAULT,
        now,
        [TxLeg(0, leg_company, station_id, f"{station_id}-c1", window)],
        now,
    )
    with store.connection():
        store.add_tx(tx)
    return tx


def committed_tx(name: str) -> BookingTx:
    """Booking ``bk-<name>`` (transaction ``tx-<name>``) coordinated by A, committed, its one
    leg held at B's ``b-maceio-1`` an hour from now: phase two still to send."""
    now = utcnow()
    w = Window(now + timedelta(hours=1), now + timedelta(hours=2))
    return BookingTx(
        tx_id=f"tx-{name}",
        booking_id=f"bk-{name}",
        coordinator="a",
        car_id="car",
        mode=Mode.DEFAULT,
        priority_at=now,
        created_at=now,
        legs=[TxLeg(0, "b", "b-maceio-1", "b-maceio-1-c1", w, LegState.HELD)],
        state=TxState.COMMITTED,
        decision="commit",
        updated_at=now,
    )
