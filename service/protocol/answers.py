"""What a client is answered about a booking, the same for REST and MQTT: the booking as
clients see it, and the problem bodies of a refusal (the conflicting legs with alternatives) or
of a silent company. Built from data only: what it needs from other companies (alternatives,
legs' live states) is gathered first by the caller (``service.catalogs.alternatives``,
``service.protocol.live``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from booking.errors import problem
from booking.transaction import BOOKING_STATE, BookingTx, LegState, TxLeg, TxState
from service.catalogs import alternatives
from service.company.inputs import iso, parse_time


@dataclass
class Outcome:
    """What the client is answered, the same for REST and MQTT: a status and a JSON body."""

    status: int
    body: dict


def offers_alternatives(tx: BookingTx) -> bool:
    """Whether the answer to ``tx`` is a refusal that lists alternatives for its refused legs:
    not a booking made, not one still preparing, not a company silent (503, answered at once,
    without asking anyone anything more). The caller gathers the alternatives only then."""
    if tx.state in (TxState.COMMITTED, TxState.CANCELLED, TxState.PREPARING):
        return False
    return not _silent_company(tx)


def _silent_company(tx: BookingTx) -> bool:
    return tx.state == TxState.ABORTED and any(leg.state == LegState.UNREACHABLE for leg in tx.legs)


def answer(
    tx: BookingTx, offers: dict[int, alternatives.Offers] | None = None, now: datetime | None = None
) -> Outcome:
    """The answer to a booking request, from what was gathered before: the transaction as
    logged and, for a refusal, the alternatives offered for each refused leg (``offers``,
    ``service.catalogs.alternatives``) and the world's ``now`` (a re-plan starts no earlier)."""
    offers = offers or {}
    if tx.state == TxState.COMMITTED or tx.state == TxState.CANCELLED:
        return Outcome(201, booking_view(tx))
    if tx.state == TxState.PREPARING:
        return Outcome(
            409,
            _problem(
                409,
                "In progress",
                "the booking is still being prepared; ask again with the same Idempotency-Key",
                tx,
            ),
        )
    if _silent_company(tx):
        unreachable = [leg for leg in tx.legs if leg.state == LegState.UNREACHABLE]
        return Outcome(
            503,
            _problem(
                503,
                "Peer unavailable",
                tx.reason or "a company is down",
                tx,
                companies=sorted({leg.company for leg in unreachable}),
            ),
        )
    conflicts = []
    for leg in tx.refused_legs:
        got = offers.get(leg.leg_index)
        conflicts.append(
            {
                "leg_index": leg.leg_index,
                "company": leg.company,
                "station_id": leg.station_id,
                "connector_id": leg.connector_id,
                "state": leg.state.value,
                "reason": leg.reason or "refused",
                "alternatives": got.alternatives if got else [],
                **({"no_alternative": got.why_none} if got and got.why_none else {}),
            }
        )
    extra = {}
    if tx.trip is not None and now is not None and any(got.why_none for got in offers.values()):
        extra["replan"] = replan_request(tx.trip, now)
    if tx.state == TxState.HELD:
        detail = (
            f"{len(conflicts)} of {len(tx.legs)} legs are not available; the others are "
            f"held until {iso(tx.hold_expires_at)}: replace the refused legs with "
            f"PATCH /bookings/{tx.booking_id} (alternatives below) or cancel it"
        )
    else:
        detail = (
            f"{tx.reason or 'refused'}; nothing is reserved. Alternatives are listed "
            f"for each refused leg"
        )
    return Outcome(409, _problem(409, "Conflict", detail, tx, conflicts=conflicts, **extra))


def replan_request(trip: dict, now: datetime) -> dict:
    """A ``POST /plans`` request for the same trip: from its departure, or now when that has
    passed (a departure in the past is refused)."""
    body = {k: v for k, v in trip.items() if k != "departure"}
    if parse_time(trip["departure"], "trip.departure") > now:
        body["departure"] = trip["departure"]
    return body


def _problem(status: int, title: str, detail: str, tx: BookingTx, **extra) -> dict:
    return problem(
        status,
        title,
        detail,
        booking_id=tx.booking_id,
        state=BOOKING_STATE[tx.state],
        hold_expires_at=iso(tx.hold_expires_at) if tx.hold_expires_at else None,
        **extra,
    )


_LEG_STATE = {
    TxState.COMMITTED: "confirmed",
    TxState.CANCELLED: "cancelled",
    TxState.ABORTED: "aborted",
}
#: the states that end a committed booking's leg, and with an abort every leg's final ones
ENDED_LEGS = frozenset({"completed", "no_show", "cancelled"})
FINAL_LEGS = ENDED_LEGS | {"aborted"}


def booking_view(tx: BookingTx, live: dict[int, str] | None = None) -> dict:
    """The booking as clients see it, from its log and its legs' ``live`` states as their
    companies answered them (``service.protocol.live`` gathers them; none: the log alone)."""
    return _view(tx, live or {})


def _view(tx: BookingTx, live: dict[int, str]) -> dict:
    """The booking from its log and the legs' ``live`` states asked of their companies."""
    states = {leg.leg_index: _leg_state(tx, leg) for leg in tx.legs}
    if tx.state in (TxState.COMMITTED, TxState.CANCELLED):
        decided = _LEG_STATE[tx.state]
        # a company still holding a leg has not heard the decision yet (phase two goes out
        # after the answer): the decision, already logged, is what the leg is
        states.update({i: decided if s == "held" else s for i, s in live.items()})
    state = BOOKING_STATE[tx.state]
    if (
        tx.state in (TxState.COMMITTED, TxState.CANCELLED)
        and all(s in ENDED_LEGS for s in states.values())
        and any(s == "completed" for s in states.values())
    ):
        state = "completed"
    return {
        "booking_id": tx.booking_id,
        "state": state,
        "car_id": tx.car_id,
        "coordinator": tx.coordinator,
        "mode": tx.mode.value,
        "priority_at": iso(tx.priority_at),
        "hold_expires_at": iso(tx.hold_expires_at) if tx.state == TxState.HELD else None,
        "created_at": iso(tx.created_at),
        "reason": tx.reason,
        "legs": [
            {
                "leg_index": leg.leg_index,
                "company": leg.company,
                "station_id": leg.station_id,
                "connector_id": leg.connector_id,
                "start": iso(leg.window.start),
                "end": iso(leg.window.end),
                "state": states[leg.leg_index],
            }
            for leg in tx.legs
        ],
    }


def _leg_state(tx: BookingTx, leg: TxLeg) -> str:
    if tx.state in _LEG_STATE and leg.state == LegState.HELD:
        return _LEG_STATE[tx.state]
    if leg.state in (LegState.CONFLICT, LegState.UNREACHABLE):
        return "conflict" if tx.state == TxState.HELD else "aborted"
    if tx.state == TxState.ABORTED:
        return "aborted"
    return leg.state.value
