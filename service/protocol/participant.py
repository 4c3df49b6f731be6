"""A company's side of two-phase commit: hold windows, vote, then confirm or release them.

The coordinator reaches this module through the gateway (``ctx.gateway``): by HTTP when it is
another company, by a direct call when it is this one, so both take the same path. Every message is
idempotent: a repeated prepare answers the same vote, a repeated commit or abort is a no-op.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from booking.errors import Conflict, Contended, DomainError, NotFound
from booking.messages import PrepareLeg, Vote
from booking.model import (
    PARTICIPANT_SLACK,
    ParticipantRecord,
    ParticipantState,
    Reservation,
    ReservationState,
    Window,
    utcnow,
    window_refusal,
)
from booking.participation import Participation
from booking.priority import Priority, contend
from booking.wire import Decision, Prepare
from service.company.context import Context
from service.company.inputs import iso

log = logging.getLogger(__name__)

ROUNDS = 3  # contention rounds before a leg that keeps losing races is refused
#: The share of the prepare timeout a participant spends before it votes: the rest is the
#: answer's way back (the coordinator waits the whole timeout from before it asked).
BUDGET = 0.75


def prepare(ctx: Context, tx_id: str, message: Prepare, deadline: float | None = None) -> Vote:
    """Hold every leg (or, with ``partial``, every leg that can be had) and vote.

    Bounded in time, whoever asks (a peer over HTTP or this company's own coordinator in its
    request thread): every wait (a lock, a wound asked of a coordinator) ends by ``deadline``
    (``time.monotonic()``; by default ``BUDGET × prepare timeout`` from now), and a leg not
    held by then is refused ("try again"), never left to the caller's timeout. A transaction
    the database gave up for a concurrent one (``Contended``: nothing of it was written) is
    another round."""
    coordinator, legs, partial = message.coordinator, message.legs, message.partial
    ctx.faults.hit("prepare", message.car_id)
    if deadline is None:
        deadline = time.monotonic() + BUDGET * ctx.timing.prepare_timeout
    vote = Vote(tx_id, ctx.company)
    with ctx.store.connection():
        rec = ctx.store.get_participant(tx_id)
        refusal = _refusal(ctx, rec, coordinator)
        if refusal:
            for leg in legs:
                vote.refused[leg.leg_index] = refusal
            return vote
        # holds are written only with their record: a transaction without one holds nothing
        held_now = (
            {}
            if rec is None
            else {
                (r.leg_index, r.connector_id, r.window): r
                for r in ctx.store.reservations_of_tx(tx_id)
                if r.active
            }
        )
        known = ctx.store.connector_places(leg.connector_id for leg in legs)
    mine = Priority(message.priority_at, message.booking_id)
    expires = utcnow() + timedelta(seconds=message.hold_seconds) if message.hold_seconds else None
    todo: list[PrepareLeg] = []
    for leg in legs:
        problem = _check_leg(ctx, leg, known.get(leg.connector_id))
        if problem:
            vote.refused[leg.leg_index] = problem
            continue
        vote.places[leg.leg_index] = known[leg.connector_id][2]
        if (leg.leg_index, leg.connector_id, leg.window) in held_now:
            vote.held.append(leg.leg_index)  # a repeated prepare
        else:
            todo.append(leg)

    for _ in range(ROUNDS):
        if not todo or (vote.refused and not partial) or time.monotonic() >= deadline:
            break
        try:
            todo = _contend_and_hold(ctx, tx_id, message, mine, expires, todo, vote, deadline)
        except Contended as exc:  # nothing of this round was written: another round
            log.info("prepare %s: %s", tx_id, exc.detail)
    for leg in todo:
        vote.refused[leg.leg_index] = (
            f"connector {leg.connector_id} kept being taken by concurrent bookings; try again"
        )
    if vote.refused and not partial and vote.held:
        # all or nothing at this company: release what this round held
        with ctx.store.transaction():
            rec = ctx.store.lock_participant(tx_id)
            if rec is not None and rec.state == ParticipantState.PREPARED:
                _release(ctx, tx_id, ReservationState.ABORTED, only_legs=set(vote.held))
        vote.held = []
    ctx.faults.hit("after_hold", message.car_id)
    return vote


def _refusal(ctx: Context, rec: ParticipantRecord | None, coordinator: str) -> str | None:
    """Why a prepare cannot hold anything for this transaction any more (None: it may)."""
    return None if rec is None else Participation(rec, ctx.company).refusal_to_hold(coordinator)


def _check_leg(ctx: Context, leg: PrepareLeg, known) -> str | None:
    if known is None or known[0].station_id != leg.station_id:
        return f"no connector {leg.connector_id!r} at station {leg.station_id!r} of company {ctx.company!r}"
    if known[1] == "offline":
        return f"station {leg.station_id} is offline"
    return window_refusal(leg.window, ctx.clock.now(), PARTICIPANT_SLACK)


def _contend_and_hold(
    ctx: Context,
    tx_id: str,
    message: Prepare,
    mine: Priority,
    expires: datetime | None,
    todo: list[PrepareLeg],
    vote: Vote,
    deadline: float,
) -> list[PrepareLeg]:
    """One round: apply the priority rule, wound later holds, then hold in one transaction.

    Returns the legs that lost a race with a concurrent writer and deserve another round.
    """
    coordinator, booking_id, car_id = message.coordinator, message.booking_id, message.car_id
    winnable: list[PrepareLeg] = []
    span = Window(min(leg.window.start for leg in todo), max(leg.window.end for leg in todo))
    with ctx.store.connection():
        nearby = [
            r
            for r in ctx.store.active_reservations({leg.connector_id for leg in todo}, span)
            if r.tx_id != tx_id
        ]
    # the wounds ask the victims' coordinators: no pooled connection is held while they answer
    for leg in todo:
        in_the_way = [
            r
            for r in nearby
            if r.connector_id == leg.connector_id and r.window.overlaps(leg.window)
        ]
        outcome = contend(mine, in_the_way)
        if outcome.refused:
            vote.refused[leg.leg_index] = outcome.refused
            continue
        for victim in outcome.victims:
            if not _wound(ctx, victim, booking_id, deadline):
                vote.refused[leg.leg_index] = (
                    f"connector {leg.connector_id} is held in that window by a booking that "
                    f"is committing"
                )
                break
        else:
            winnable.append(leg)
    if vote.refused and not message.partial:  # all or nothing at this company
        return []
    retry: list[PrepareLeg] = []
    with ctx.store.transaction():
        ctx.store.limit_lock_waits(max(0.001, deadline - time.monotonic()))
        # the record and the holds change together under the record's lock: an abort racing
        # this prepare either comes first (and this sees it) or waits and releases the holds
        # (then the connectors' locks, in add_reservations: always record first, connectors
        # second, as a commit takes them)
        rec = ctx.store.lock_participant(
            tx_id,
            create=ParticipantRecord(
                tx_id=tx_id,
                coordinator=coordinator,
                booking_id=booking_id,
                priority_at=mine.at,
                car_id=car_id,
                hold_expires_at=expires,
            ),
        )
        assert rec is not None
        refusal = _refusal(ctx, rec, coordinator)
        if refusal:
            for leg in winnable:
                vote.refused[leg.leg_index] = refusal
            return []
        if expires and rec.hold_expires_at != expires:
            rec.hold_expires_at = expires
            ctx.store.save_participant(rec)
        stamp = f"{utcnow().timestamp():.6f}"
        holds = {
            leg.leg_index: Reservation(
                id=f"{tx_id}-{leg.leg_index}-{stamp}"[-64:],
                connector_id=leg.connector_id,
                station_id=leg.station_id,
                window=leg.window,
                state=ReservationState.HELD,
                booking_id=booking_id,
                tx_id=tx_id,
                leg_index=leg.leg_index,
                car_id=car_id,
                priority_at=mine.at,
                hold_expires_at=expires,
            )
            for leg in winnable
        }
        taken = {r.leg_index for r in ctx.store.add_reservations(list(holds.values()))}
        for leg in winnable:
            if leg.leg_index in taken:
                retry.append(leg)  # someone slipped in between the check and the write
            else:
                vote.held.append(leg.leg_index)
    return retry


def _wound(ctx: Context, victim: Reservation, by_booking: str, deadline: float) -> bool:
    """Ask the victim's coordinator to give up this hold; on yes, mark it preempted here."""
    if victim.tx_id is None:
        return False  # not held by a two-phase commit: nobody to ask
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    with ctx.store.connection():
        rec = ctx.store.get_participant(victim.tx_id)
    if rec is None:
        return False
    granted = ctx.gateway.wound(
        ctx,
        rec.coordinator,
        victim.tx_id,
        [victim.leg_index],
        f"taken by booking {by_booking} of earlier priority",
        timeout=min(left, ctx.timing.peer_timeout),
    )
    if granted:
        with ctx.store.transaction():
            ctx.store.lock_participant(victim.tx_id)  # a hold changes only under its record's lock
            ctx.store.set_reservation_state(
                [victim.id], ReservationState.PREEMPTED, only_from=[ReservationState.HELD]
            )
        log.info(
            "booking %s preempted leg %d of booking %s at %s",
            by_booking,
            victim.leg_index,
            victim.booking_id,
            victim.connector_id,
        )
    return granted


def commit(
    ctx: Context,
    tx_id: str,
    legs: list[tuple[int, str]] | None = None,
    coordinator: str | None = None,
) -> str:
    """Confirm the holds this company recorded for the transaction.

    ``coordinator``: the peer sending it, which must be the transaction's coordinator.
    ``legs`` (leg index, connector) may only cross-check them: every leg named must be held
    here (``Conflict`` otherwise), and a hold the coordinator no longer names (a leg it replaced
    elsewhere) is released. Without ``legs`` every hold is confirmed. Returns the participant's
    state afterwards; ``NotFound`` when this company never heard of the transaction;
    ``Conflict`` when it aborted it (or released it alone after a long doubt and cannot hold
    the windows again).
    """
    ctx.faults.hit("commit")
    with ctx.store.transaction():
        rec = ctx.store.lock_participant(tx_id)
        if rec is None:
            raise NotFound(f"transaction {tx_id} is unknown at company {ctx.company}")
        mine = ctx.store.reservations_of_tx(tx_id)
        named = None if legs is None else set(legs)
        part = Participation(rec, ctx.company)
        if part.needs_repair and (coordinator is None or coordinator == rec.coordinator):
            released = {_key(r) for r in mine if r.state == ReservationState.ABORTED}
            return _repair_heuristic(ctx, rec, mine, released if named is None else named)
        held = {_key(r): r.id for r in mine if r.state == ReservationState.HELD}
        plan = part.commit(coordinator, set(held), named)
        if plan is None:
            return rec.state.value  # a repeated commit
        ctx.store.set_reservation_state(
            [held[k] for k in plan.confirm],
            ReservationState.CONFIRMED,
            only_from=[ReservationState.HELD],
        )
        ctx.store.set_reservation_state(
            [held[k] for k in plan.release],
            ReservationState.ABORTED,
            only_from=[ReservationState.HELD],
        )
        ctx.store.save_participant(rec)
        confirmed = set(plan.confirm)
        # inside a coordinator's decision (its own leg) the outer transaction commits later
        ctx.store.on_commit(
            lambda: ctx.stations_changed({r.station_id for r in mine if _key(r) in confirmed})
        )
    return "committed"


def prepare_all(
    ctx: Context, items: list[tuple[str, Prepare | DomainError]]
) -> list[Vote | DomainError]:
    """Several transactions' prepares from one coordinator (``POST /prepares``), each voted
    on its own, in order: one result per item — its vote, or the error it alone is answered
    with. They share the one budget a single prepare has, counted from their arrival, so
    the last is answered within the coordinator's timeout like the first."""
    deadline = time.monotonic() + BUDGET * ctx.timing.prepare_timeout
    log.info("prepares of %d transactions in one round", len(items))
    out: list[Vote | DomainError] = []
    for tx_id, message in items:
        if isinstance(message, DomainError):
            out.append(message)
            continue
        try:
            out.append(prepare(ctx, tx_id, message, deadline))
        except DomainError as exc:  # that prepare's own answer (a 503: that item's only)
            out.append(exc)
    return out


def decide_all(
    ctx: Context, decisions: list[Decision], coordinator: str
) -> list[str | DomainError]:
    """Phase-two messages (``commit``, ``abort`` or ``cancel``) from ``coordinator``, each
    applied alone: one result per decision, in order — this company's state afterwards, or the
    ``NotFound`` / ``Conflict`` it stands for. The coordinator's own (``service.protocol.gateway``) and
    a peer's ``POST /decisions`` (``handlers.transactions``) go through here alike."""
    out: list[str | DomainError] = []
    for d in decisions:
        try:
            if d.decision == "commit":
                out.append(commit(ctx, d.tx_id, d.legs, coordinator=coordinator))
            elif d.decision == "cancel":
                out.append(cancel(ctx, d.tx_id, coordinator=coordinator))
            else:
                out.append(abort(ctx, d.tx_id, coordinator))
        except (NotFound, Conflict) as exc:
            out.append(exc)
    return out


def _key(r: Reservation) -> tuple[int, str]:
    return (r.leg_index, r.connector_id)


def _repair_heuristic(ctx, rec, mine, wanted) -> str:
    """The coordinator committed what this company released alone: hold it again if free."""
    again = [r for r in mine if _key(r) in wanted and r.state == ReservationState.ABORTED]
    try:
        ctx.store.set_reservation_state([r.id for r in again], ReservationState.CONFIRMED)
    except Conflict as exc:  # the window went to someone else meanwhile
        Participation(rec, ctx.company).repair_failed(str(exc))
        ctx.store.save_participant(rec)
        log.error("transaction %s: %s", rec.tx_id, rec.heuristic_note)
        return "heuristic_abort"
    Participation(rec, ctx.company).repaired()
    ctx.store.save_participant(rec)
    log.warning("transaction %s: %s", rec.tx_id, rec.heuristic_note)
    return "committed"


def abort(ctx: Context, tx_id: str, coordinator: str) -> str:
    """Release every hold of the transaction. An unknown transaction is remembered as aborted
    (presumed abort), so a prepare that arrives after its abort is refused."""
    with ctx.store.transaction():
        rec = ctx.store.lock_participant(
            tx_id, create=Participation.presumed_abort(tx_id, coordinator, utcnow())
        )
        assert rec is not None
        if not Participation(rec, ctx.company).abort(coordinator):
            return rec.state.value  # a repeated message
        _release(ctx, tx_id, ReservationState.ABORTED)
        ctx.store.save_participant(rec)
    return "aborted"


def cancel(ctx: Context, tx_id: str, coordinator: str | None = None) -> str:
    """The driver cancelled a confirmed booking: release its windows here (not one charging).
    ``coordinator``: the peer sending it, which must be the transaction's coordinator."""
    with ctx.store.transaction():
        rec = ctx.store.lock_participant(tx_id)
        if rec is None or not Participation(rec, ctx.company).cancel(coordinator):
            return "cancelled"
        mine = ctx.store.reservations_of_tx(tx_id)
        ctx.store.set_reservation_state(
            [r.id for r in mine],
            ReservationState.CANCELLED,
            only_from=[ReservationState.HELD, ReservationState.CONFIRMED],
        )
        ctx.store.save_participant(rec)
    ctx.stations_changed({r.station_id for r in mine if r.state == ReservationState.CONFIRMED})
    return "cancelled"


def _release(
    ctx: Context, tx_id: str, state: ReservationState, only_legs: set[int] | None = None
) -> None:
    """Within a transaction holding the record's lock: end the transaction's holds."""
    ids = [
        r.id
        for r in ctx.store.reservations_of_tx(tx_id)
        if r.state == ReservationState.HELD and (only_legs is None or r.leg_index in only_legs)
    ]
    ctx.store.set_reservation_state(ids, state, only_from=[ReservationState.HELD])


def status(ctx: Context, tx_id: str, asker: str | None = None) -> dict:
    """What this company knows of a transaction as a participant. A peer ``asker`` sees it
    only if it is the transaction's coordinator; to any other it does not exist."""
    with ctx.store.connection():
        rec = ctx.store.get_participant(tx_id)
        if rec is None or (asker is not None and asker != rec.coordinator):
            raise NotFound(f"transaction {tx_id} is unknown at company {ctx.company}")
        mine = ctx.store.reservations_of_tx(tx_id)
    state = rec.state.value
    if rec.heuristic:
        state = f"heuristic_{rec.heuristic}"
    return {
        "tx_id": tx_id,
        "role": "participant",
        "state": state,
        "company": ctx.company,
        "booking_id": rec.booking_id,
        "updated_at": iso(rec.updated_at),
        "legs": [
            {
                "leg_index": r.leg_index,
                "connector_id": r.connector_id,
                "station_id": r.station_id,
                "state": r.state.value,
                "start": iso(r.window.start),
                "end": iso(r.window.end),
            }
            for r in mine
        ],
    }


def coordinator_decision(ctx: Context, rec: ParticipantRecord) -> tuple[str | None, dict | None]:
    """What the transaction's coordinator decided — ``commit``, ``abort`` (also when its log
    has no record of it: presumed abort) or None while it has not decided (preparing, or held
    in hold mode) — with its view of the transaction. ``PeerError`` when it cannot be asked.
    One question for the recovery worker's sweep and a charging session's settling."""
    answer = ctx.gateway.coordinator_status(ctx, rec.coordinator, rec.tx_id)
    decision = answer.get("decision") if answer else "abort"
    return (decision if decision in ("commit", "abort") else None), answer


def resolve_in_doubt(
    ctx: Context,
    rec: ParticipantRecord,
    decision: str | None,
    legs: list[tuple[int, str]] | None = None,
) -> str:
    """Apply what the coordinator said of a prepared transaction (None: it never decided);
    ``legs``: the legs it committed here, when it said."""
    if decision == "commit":
        return commit(ctx, rec.tx_id, legs)
    return abort(ctx, rec.tx_id, rec.coordinator)


def heuristic_abort(ctx: Context, doubt: ParticipantRecord, why: str) -> None:
    """Past the in-doubt limit with the coordinator silent: release alone, and say so."""
    with ctx.store.transaction():
        rec = ctx.store.lock_participant(doubt.tx_id)
        if rec is None or not Participation(rec, ctx.company).give_up():
            return  # the outcome arrived meanwhile
        _release(ctx, rec.tx_id, ReservationState.ABORTED)
        ctx.store.save_participant(rec)
    log.error(
        "transaction %s: heuristic abort after %s (coordinator %s)", rec.tx_id, why, rec.coordinator
    )


def release_orphans(ctx: Context) -> int:
    """Recovery's invariant: a held row whose record is not ``prepared`` would never be
    released by anyone; release it and say so. Returns how many were released."""
    with ctx.store.connection():
        orphans = ctx.store.orphan_holds()
    released = 0
    for tx_id in sorted({r.tx_id or "" for r in orphans}):
        with ctx.store.transaction():
            rec = ctx.store.lock_participant(tx_id) if tx_id else None
            if rec is not None and rec.state == ParticipantState.PREPARED:
                continue  # prepared again meanwhile: its holds are legitimate
            ids = [r.id for r in orphans if (r.tx_id or "") == tx_id]
            released += ctx.store.set_reservation_state(
                ids, ReservationState.ABORTED, only_from=[ReservationState.HELD]
            )
        log.error(
            "tx %s: released %d held reservation(s) whose participant record is %s",
            tx_id or "(none)",
            len(ids),
            rec.state.value if rec else "missing",
        )
    return released
