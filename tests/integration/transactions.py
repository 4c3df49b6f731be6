"""Test data for the integration tests: a logged booking transaction."""

from __future__ import annotations

from datetime import timedelta

from booking.model import Window, utcnow
from booking.transaction import BookingTx, Mode, TxLeg


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
