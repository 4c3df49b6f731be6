"""What happens at the station: charging starts and finishes, the trip ends, a station goes
offline. Stations and cars report these over MQTT; the bridge calls these use cases."""

from __future__ import annotations

import logging

from booking import session
from booking.errors import Conflict, NotFound
from booking.model import ReservationState, Window
from booking.transaction import TxLeg
from federation import PeerError
from service.catalogs import alternatives
from service.company import inputs
from service.company.context import Context
from service.protocol import participant

log = logging.getLogger(__name__)

_NEXT = {
    "start": (ReservationState.CONFIRMED, ReservationState.CHARGING),
    "finish": (ReservationState.CHARGING, ReservationState.COMPLETED),
}


def _step(ctx: Context, step: str, booking_id: str, connector_id: str, car_id: str) -> dict:
    try:
        return _apply(ctx, step, booking_id, connector_id, car_id)
    except _NotYetDecided as held:
        # the car is faster than phase two: the booking's answer came when the decision was
        # logged, the commit to this company follows. Ask the coordinator, apply its word,
        # and try once more (a hold it has not committed stays refused).
        if not _settled(ctx, held.tx_id):
            raise Conflict(
                f"cannot {step} charging: the booking is not confirmed here yet "
                f"(its coordinator has not decided); try again"
            ) from None
        return _apply(ctx, step, booking_id, connector_id, car_id)


class _NotYetDecided(Exception):
    def __init__(self, tx_id: str):
        self.tx_id = tx_id


def _settled(ctx: Context, tx_id: str) -> bool:
    """Ask the transaction's coordinator for its decision; a commit is applied here now."""
    with ctx.store.connection():
        rec = ctx.store.get_participant(tx_id)
    if rec is None:
        return False
    try:
        decision, _ = participant.coordinator_decision(ctx, rec)
    except PeerError:
        return False
    if decision != "commit":
        return False
    with ctx.store.connection():
        participant.resolve_in_doubt(ctx, rec, "commit")
    return True


def _apply(ctx: Context, step: str, booking_id: str, connector_id: str, car_id: str) -> dict:
    before, after = _NEXT[step]
    with ctx.store.transaction():
        mine = [
            r
            for r in ctx.store.reservations_of_booking(booking_id)
            if r.connector_id == connector_id and r.car_id == car_id
        ]
        if not mine:
            raise NotFound(
                f"car {car_id} has no reservation of booking {booking_id} at "
                f"connector {connector_id} of company {ctx.company}"
            )
        current = next((r for r in mine if r.state in (before, after)), None)
        if current is None:
            last = mine[-1].state
            if last == ReservationState.HELD and mine[-1].tx_id:
                raise _NotYetDecided(mine[-1].tx_id)
            why = (
                "it was never started"
                if step == "finish"
                and last in (ReservationState.CONFIRMED, ReservationState.NO_SHOW)
                else f"the reservation is {last.value}"
            )
            raise Conflict(f"cannot {step} charging: {why}")
        changed = current.state == before
        if changed and step == "start":  # the lifecycle's rule (booking.session)
            refused = session.start_refused(current.window, ctx.clock.now())
            if refused is not None:
                raise Conflict(f"cannot start charging: {refused}")
        if changed:
            ctx.store.set_reservation_state([current.id], after, only_from=[before])
    if changed:
        ctx.stations_changed({current.station_id})
    return {
        "booking_id": booking_id,
        "connector_id": connector_id,
        "station_id": current.station_id,
        "leg_index": current.leg_index,
        "state": after.value,
    }


def start_charging(ctx: Context, booking_id: str, connector_id: str, car_id: str) -> dict:
    return _step(ctx, "start", booking_id, connector_id, car_id)


def finish_charging(ctx: Context, booking_id: str, connector_id: str, car_id: str) -> dict:
    return _step(ctx, "finish", booking_id, connector_id, car_id)


def set_station_status(ctx: Context, station_id: str, status: str) -> int:
    """Record a station's reported status. Going offline tells every car with a future window
    there, offering alternatives for that leg (a re-plan of the lost stop). Returns how many
    cars were told."""
    with ctx.store.transaction():
        station = ctx.store.get_station(station_id)
        if station is None:
            raise NotFound(f"no station {station_id!r} at company {ctx.company!r}")
        was = station.status
        ctx.store.set_station_status(station_id, status)
    if status != "offline" or was == "offline":
        return 0
    now = ctx.clock.now()
    with ctx.store.connection():
        affected = [
            r
            for r in ctx.store.active_reservations(
                [c.id for c in station.connectors], Window(now, inputs.a_year_after(now))
            )
            if r.state == ReservationState.CONFIRMED
        ]
        records = {r.tx_id: ctx.store.get_participant(r.tx_id) for r in affected if r.tx_id}
    for r in affected:
        rec = records.get(r.tx_id) if r.tx_id else None
        home = rec.coordinator if rec else ctx.company
        leg = TxLeg(
            r.leg_index,
            ctx.company,
            r.station_id,
            r.connector_id,
            r.window,
            place_id=station.place_id,
        )
        offers = alternatives.for_leg(ctx, leg)
        ctx.notify(
            home,
            r.car_id,
            {
                "type": "station_offline",
                "booking_id": r.booking_id,
                "leg_index": r.leg_index,
                "station_id": station_id,
                "connector_id": r.connector_id,
                "window": {"start": inputs.iso(r.window.start), "end": inputs.iso(r.window.end)},
                "replan": {
                    "alternatives": offers.alternatives,
                    **({"no_alternative": offers.why_none} if offers.why_none else {}),
                    "how": "book an alternative, then cancel this booking's leg or trip",
                },
            },
        )
    log.warning(
        "station %s went offline: %d cars with a future window told", station_id, len(affected)
    )
    return len(affected)
