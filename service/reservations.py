"""Reserving windows at this company, all or nothing, in one database transaction.

The two-phase-commit participant calls this to hold a booking's legs here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from booking.errors import Conflict, InvalidRequest
from booking.model import Reservation, ReservationState, WindowRequest, utcnow
from service.context import Context


def reserve_windows(ctx: Context, booking_id: str, requests: Sequence[WindowRequest],
                    state: ReservationState = ReservationState.CONFIRMED,
                    tx_id: str | None = None, car_id: str | None = None,
                    priority_at: datetime | None = None,
                    hold_expires_at: datetime | None = None) -> list[Reservation]:
    """Reserve every requested window or none. ``Conflict`` lists every taken leg."""
    if not requests:
        raise InvalidRequest("nothing to reserve")
    made: list[Reservation] = []
    conflicts: list[dict] = []
    with ctx.store.transaction():
        for index, req in enumerate(requests):
            connector = ctx.store.get_connector(req.connector_id)
            if connector is None:
                raise InvalidRequest(
                    f"no connector {req.connector_id!r} at company {ctx.company!r}")
            res = Reservation(
                id=uuid.uuid4().hex, connector_id=connector.id, station_id=connector.station_id,
                window=req.window, state=state, booking_id=booking_id, tx_id=tx_id,
                leg_index=index, car_id=car_id, priority_at=priority_at,
                hold_expires_at=hold_expires_at, created_at=utcnow())
            try:
                ctx.store.add_reservation(res)
            except Conflict as exc:
                conflicts.append({"leg_index": index, "connector_id": req.connector_id,
                                  "station_id": connector.station_id, "reason": exc.detail})
                continue
            made.append(res)
        if conflicts:
            # Raising inside the transaction rolls back the legs that did fit.
            raise Conflict(f"{len(conflicts)} of {len(requests)} windows are taken",
                           conflicts=conflicts)
    return made
