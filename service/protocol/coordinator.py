"""Booking use cases: this server coordinates a two-phase commit over every company involved.

The order of every step is the protocol (docs/protocol.md): log the transaction, prepare in
parallel, log the votes and the decision in one locked write, then send the decision. Whatever
the moment of a crash, ``service.protocol.recovery`` can finish from the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from booking.errors import Conflict, InvalidRequest, NotFound
from booking.model import CLIENT_SLACK, Window, utcnow, window_refusal
from booking.transaction import BOOKING_STATE, BookingTx, LegState, Mode, TxLeg, TxState
from federation import PeerError
from service.catalogs import alternatives, trips
from service.company import fanout
from service.company.context import Context
from service.company.inputs import iso
from service.protocol import answers
from service.protocol.live import views as live_views

log = logging.getLogger(__name__)

PARTICIPANT_HOLD_MARGIN = 30  # participants keep hold-mode holds this much longer (seconds)


# -- requests ------------------------------------------------------------------------------


def _legs(ctx: Context, raw: list[dict], indexed: bool = False) -> list[TxLeg]:
    known = {ctx.company, *ctx.peers()}
    legs = []
    for position, d in enumerate(raw):
        index = int(d["leg_index"]) if indexed else position
        company, station, connector = d["company"], d["station_id"], d["connector_id"]
        if company not in known:
            raise InvalidRequest(
                f"leg {index}: company {company!r} is not part of this "
                f"federation (known: {', '.join(sorted(known))})"
            )
        if not station.startswith(f"{company}-") or not connector.startswith(f"{station}-"):
            raise InvalidRequest(
                f"leg {index}: station {station!r} and connector {connector!r} "
                f"do not belong to company {company!r}"
            )
        try:
            window = Window(d["start"], d["end"])
        except ValueError as exc:
            raise InvalidRequest(f"leg {index}: {exc}") from exc
        refusal = window_refusal(window, ctx.clock.now(), CLIENT_SLACK)
        if refusal:
            raise InvalidRequest(f"leg {index}: {refusal}")
        legs.append(TxLeg(index, company, station, connector, window))
    return legs


def _check_sequence(legs: list[TxLeg]) -> None:
    """One car cannot charge at two places at once: windows follow each other."""
    ordered = sorted(legs, key=lambda leg: leg.leg_index)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.window.start < a.window.end:
            raise InvalidRequest(
                f"legs {a.leg_index} and {b.leg_index} overlap in time; a "
                f"booking's windows must follow one another"
            )


def _fingerprint(
    car_id: str, raw: list[dict], mode: str, owner: str | None, trip: dict | None
) -> str:
    canon = json.dumps(
        {
            "car": car_id,
            "mode": mode,
            "legs": raw,
            "owner": owner,
            **({"trip": trip} if trip is not None else {}),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


def book(
    ctx: Context,
    car_id: str,
    raw_legs: list[dict],
    mode: str = "default",
    idempotency_key: str | None = None,
    owner: str | None = None,
    trip: dict | None = None,
) -> answers.Outcome:
    """Reserve every leg or none (or, in hold mode, hold what can be had and say what cannot).
    ``trip``, the trip the legs serve, lets a refusal offer alternatives checked against it."""
    fingerprint = _fingerprint(car_id, raw_legs, mode, owner, trip)
    if idempotency_key:
        replay = _replay(ctx, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    legs = _legs(ctx, raw_legs)
    _check_sequence(legs)
    if trip is not None:
        trips.booked_trip(ctx, trip)  # a trip that cannot be driven is refused now, not later
    now = utcnow()
    tx = BookingTx(
        tx_id=f"tx-{uuid.uuid4().hex}",
        booking_id=f"bk-{uuid.uuid4().hex[:24]}",
        coordinator=ctx.company,
        car_id=car_id,
        mode=Mode(mode),
        priority_at=now,
        legs=legs,
        created_at=now,
        idempotency_key=idempotency_key,
        request_sha256=fingerprint,
        owner=owner,
        trip=trip,
    )
    try:
        with ctx.store.connection():
            ctx.store.add_tx(tx)  # the log comes first: recovery can always finish from it
    except Conflict:
        replay = _replay(ctx, idempotency_key, fingerprint) if idempotency_key else None
        if replay is None:
            raise
        return replay
    return _run(ctx, tx)


def _replay(ctx: Context, key: str, fingerprint: str) -> answers.Outcome | None:
    with ctx.store.connection():
        tx = ctx.store.get_tx_by_key(key)
    if tx is None:
        return None
    if tx.request_sha256 != fingerprint:
        raise InvalidRequest("this Idempotency-Key was used with a different request")
    if tx.result is not None:
        return answers.Outcome(tx.result["status"], tx.result["body"])
    return answers.answer(tx)


def replace_legs(
    ctx: Context, booking_id: str, raw_legs: list[dict], caller: str | None = None
) -> answers.Outcome:
    """Hold mode: replace refused legs and try to commit the whole booking again."""
    tx = _tx_of(ctx, booking_id, caller)
    new = _legs(ctx, raw_legs, indexed=True)
    _check_sequence(
        [*(leg for leg in tx.legs if leg.leg_index not in {n.leg_index for n in new}), *new]
    )

    def change(t: BookingTx) -> str | None:
        try:
            t.replace_legs(new, utcnow())
        except ValueError as exc:
            return str(exc)
        t.result = None
        return None

    with ctx.store.connection():
        tx, problem = ctx.store.update_tx(tx.tx_id, change)
        ctx.store.take_tx(tx.tx_id)  # this process works on it now (its lease)
    if problem:
        raise Conflict(f"booking {booking_id}: {problem}")
    outcome = _run(ctx, tx)
    # the booking existed: it is changed (200), not created (201), whichever adapter asked
    return answers.Outcome(200, outcome.body) if outcome.status == 201 else outcome


def cancel(ctx: Context, booking_id: str, caller: str | None = None) -> answers.Outcome:
    """Cancel every leg at once: the decision is logged, then every company is told.

    Answered within one prepare timeout whatever the companies do: the commit may still be on
    its way to a slow or partitioned company, and a cancellation must not overtake it there,
    so when the commit is not through in time the cancellation is queued behind it in the
    outbox (one round in flight per company, in order) instead of sent now; the decision is
    logged either way, and each leg's state in the answer is what its company acknowledged.
    """
    tx = _tx_of(ctx, booking_id, caller)
    deadline = time.monotonic() + ctx.timing.prepare_timeout
    settled = ctx.outbox.settle(tx.tx_id, ctx.timing.prepare_timeout)
    with ctx.live.working(tx.tx_id):
        with ctx.store.connection():
            ctx.store.take_tx(tx.tx_id)  # this process works on it now (its lease)
            tx, _ = ctx.store.update_tx(tx.tx_id, lambda t: t.cancel())
        if settled:
            tx = _send_decision(ctx, tx, timeout=max(0.0, deadline - time.monotonic()) + 0.5)
        else:
            ctx.outbox.submit(ctx, tx)
    return answers.Outcome(200, answers.booking_view(tx))


def finish_trip(ctx: Context, booking_id: str, car_id: str) -> answers.Outcome:
    """The car arrived: windows it will not use are released for others (legs charged stay
    completed)."""
    tx = _tx_of(ctx, booking_id)
    if tx.car_id != car_id:
        raise NotFound(f"booking {booking_id} is not car {car_id}'s")
    return cancel(ctx, booking_id)


def owner(ctx: Context, booking_id: str) -> str:
    """The car a booking is for."""
    return _tx_of(ctx, booking_id).car_id


def get(ctx: Context, booking_id: str, caller: str | None = None) -> dict:
    return live_views(ctx, [_tx_of(ctx, booking_id, caller)])[0]


def listing(ctx: Context, caller: str, limit: int = 20, offset: int = 0) -> dict:
    """The caller's bookings, newest first, each as ``get`` shows it (the admin: every booking
    coordinated here). A driver's work is never lost to a closed page."""
    with ctx.store.connection():
        txs, total = ctx.store.list_txs(None if caller == "admin" else caller, limit, offset)
    return {"items": live_views(ctx, txs), "total": total, "limit": limit, "offset": offset}


def _tx_of(ctx: Context, booking_id: str, caller: str | None = None) -> BookingTx:
    """The booking's transaction; to a caller who may not see it, it does not exist."""
    with ctx.store.connection():
        tx = ctx.store.get_tx_by_booking(booking_id)
    if tx is None or not tx.visible_to(caller):
        raise NotFound(f"booking {booking_id} is not coordinated by company {ctx.company}")
    return tx


# -- the protocol ----------------------------------------------------------------------------


def _run(ctx: Context, tx: BookingTx) -> answers.Outcome:
    """Prepare the pending legs in parallel, decide, send the decision, answer. ``tx`` is the
    transaction as just logged (its pending legs are what this round prepares)."""
    with ctx.live.working(tx.tx_id):
        return _prepare_and_decide(ctx, tx)


def _prepare_and_decide(ctx: Context, tx: BookingTx) -> answers.Outcome:
    tx_id = tx.tx_id
    pending: dict[str, list[TxLeg]] = {}
    for leg in tx.legs:
        if leg.state == LegState.PENDING:
            pending.setdefault(leg.company, []).append(leg)
    hold = ctx.timing.hold_seconds + PARTICIPANT_HOLD_MARGIN if tx.mode == Mode.HOLD else None
    outcomes = _round(
        ctx,
        {
            company: (ctx.gateway.prepare, ctx, company, tx, legs, hold, tx.mode == Mode.HOLD)
            for company, legs in pending.items()
        },
    )
    votes, silent = [], {}
    for company, out in outcomes.items():
        if out.answered:
            votes.append(out.value)
        elif out.silent:
            silent[company] = (
                f"it accepted the request but sent no answer within "
                f"{ctx.timing.prepare_timeout:g} s"
            )
        elif isinstance(out.error, PeerError):
            silent[company] = str(out.error)
        else:  # a participant bug must abort the booking, not hang it
            log.error("prepare at %s failed: %r", company, out.error)
            silent[company] = f"prepare failed: {type(out.error).__name__}"

    ctx.faults.hit("before_decision", tx.car_id)

    def decide(t: BookingTx) -> None:
        for vote in votes:
            t.record_vote(vote.company, vote.held, vote.refused, vote.places)
        for company, why in silent.items():
            t.record_unreachable(company, why)
        t.decide(utcnow(), timedelta(seconds=ctx.timing.hold_seconds))
        if t.state == TxState.COMMITTED:  # the answer is the decision: logged with it
            t.result = {"status": 201, "body": answers.booking_view(t)}
        _own_phase_two(ctx, t)

    with ctx.store.connection():
        tx, _ = ctx.store.update_tx(tx_id, decide)
    ctx.faults.hit("after_decision", tx.car_id)
    if tx.state == TxState.COMMITTED:
        # the outcome is fixed and durable: answer now, commit everywhere right after
        # (docs/protocol.md, "Phase two after the answer")
        assert tx.result is not None
        outcome = answers.Outcome(tx.result["status"], tx.result["body"])
        ctx.outbox.submit(ctx, tx)
        ctx.notify(ctx.company, tx.car_id, {"type": "booking_confirmed", "booking": outcome.body})
        return outcome
    # the client's answer does not depend on who hears an abort: answer, then release (a
    # frozen participant must not hold the client a second timeout)
    # gather what the answer needs from the other companies, then build it from data (a
    # silent company's 503 needs nothing: it is answered within the prepare timeout)
    offers = alternatives.for_booking(ctx, tx) if answers.offers_alternatives(tx) else {}
    outcome = answers.answer(tx, offers, ctx.clock.now())
    tx = _record_result(ctx, tx, outcome)
    if tx.pending_messages():
        ctx.outbox.submit(ctx, tx)
    return outcome


def _own_phase_two(ctx: Context, t: BookingTx) -> None:
    """This company's own part of phase two, inside the decision's database transaction: its
    holds confirmed (or released) and acknowledged in the same write as the decision, instead
    of a transaction and an acknowledgement of their own afterwards. Locks are taken in the
    order coordinator's log row → participant record → reservations, which no path takes in
    reverse (a participant asks a coordinator to wound outside any transaction)."""
    message = t.pending_messages().get(ctx.company)
    if message is None:
        return
    try:  # in a savepoint: whatever fails here is rolled back alone, not the decision
        [result] = ctx.gateway.finish(ctx, ctx.company, [(t, message)])
    except Exception:  # noqa: BLE001 — the outbox sends it after the answer, as to a peer
        log.warning("tx %s: own %s left to the outbox", t.tx_id, message, exc_info=True)
        return
    acked, note = _acknowledged(t, ctx.company, message, result)
    if acked:
        _ack_change(ctx.company, message, [note] if note else [])(t)


def _record_result(ctx: Context, tx: BookingTx, result: answers.Outcome) -> BookingTx:
    def record(t: BookingTx) -> None:
        if t.result is None:
            t.result = {"status": result.status, "body": result.body}

    with ctx.store.connection():
        tx, _ = ctx.store.update_tx(tx.tx_id, record)
    return tx


def deliver(ctx: Context, company: str, items: list[tuple[BookingTx, str]]) -> dict[str, Callable]:
    """One outbox round: phase two of several transactions to one company, one message.
    Returns what it acknowledged, as a change to each transaction's log (``log_acks``
    writes them)."""
    try:
        results = ctx.gateway.finish(ctx, company, items)
    except PeerError as exc:
        log.info(
            "phase two of %d transaction(s) to %s not delivered yet: %s", len(items), company, exc
        )
        return {}
    changes = {}
    for (tx, message), result in zip(items, results, strict=True):
        acked, note = _acknowledged(tx, company, message, result)
        if acked:
            changes[tx.tx_id] = _ack_change(company, message, [note] if note else [])
    return changes


def log_acks(ctx: Context, changes: dict[str, list[Callable]]) -> None:
    """Acknowledgements of several transactions, from one or more companies, logged in one
    database transaction."""

    def both(fns: list[Callable]) -> Callable:
        def change(t: BookingTx) -> None:
            for fn in fns:
                fn(t)

        return change

    with ctx.store.connection():
        ctx.store.update_txs({tx_id: both(fns) for tx_id, fns in changes.items()})


def _acknowledged(
    tx: BookingTx, company: str, message: str, result: str | Exception
) -> tuple[bool, str | None]:
    """What one company's reply to one phase-two message means for the log: acknowledged or
    not, and a note worth keeping in the transaction's reason."""
    if isinstance(result, NotFound):
        if message == "commit" and tx.held_legs_of(company):
            log.error("tx %s: commit refused by %s: %s", tx.tx_id, company, result.detail)
            return True, f"company {company}: {result.detail}"
        return True, None  # nothing is held there: nothing to confirm or release
    if isinstance(result, Conflict):
        log.error("tx %s: %s refused by %s: %s", tx.tx_id, message, company, result.detail)
        return True, f"company {company}: {result.detail}"
    if isinstance(result, Exception):
        log.error("tx %s: sending %s to %s failed: %r", tx.tx_id, message, company, result)
        return False, None
    if result.startswith("heuristic"):
        return True, f"company {company} reports {result}"
    return True, None


def _ack_change(company: str, message: str, notes: list[str]):
    def record(t: BookingTx) -> None:
        if t.pending_messages().get(company) == message:
            t.acknowledge(company, message)
        if notes:
            t.reason = "; ".join(filter(None, [t.reason, *notes]))

    return record


def _send_decision(ctx: Context, tx: BookingTx, timeout: float | None = None) -> BookingTx:
    """Tell every company the decision it has not acknowledged, now; log the
    acknowledgements (cancellations and recovery: they wait for the answers, at most
    ``timeout``, else one round's)."""
    pending = tx.pending_messages()
    outcomes = _round(
        ctx, {c: (ctx.gateway.finish, ctx, c, [(tx, m)]) for c, m in pending.items()}, timeout
    )
    acks: dict[str, str] = {}
    notes: list[str] = []
    for company, out in outcomes.items():
        if out.silent:
            continue  # recovery sends it again
        try:
            [result] = out.result()
        except PeerError as exc:
            log.info(
                "tx %s: %s to %s not delivered yet: %s", tx.tx_id, pending[company], company, exc
            )
            continue
        except Exception:
            log.exception("tx %s: sending %s to %s failed", tx.tx_id, pending[company], company)
            continue
        acked, note = _acknowledged(tx, company, pending[company], result)
        if acked:
            acks[company] = pending[company]
        if note:
            notes.append(note)
    if not acks:
        return tx

    def record(t: BookingTx) -> None:
        for company, message in acks.items():
            _ack_change(company, message, [])(t)
        if notes:
            t.reason = "; ".join(filter(None, [t.reason, *notes]))

    with ctx.store.connection():
        tx, _ = ctx.store.update_tx(tx.tx_id, record)
    return tx


def _round(ctx: Context, calls: dict, timeout: float | None = None) -> dict[str, fanout.Outcome]:
    """One message round of the protocol: every company at once, this one in this thread,
    waiting at most ``timeout``, else the prepare timeout (plus a little for the peers' own
    timeouts to fire)."""
    wait = ctx.timing.prepare_timeout + 0.5 if timeout is None else timeout
    return fanout.fan_out(ctx, calls, wait, local=ctx.company)


def wound(
    ctx: Context, tx_id: str, leg_indexes: list[int], reason: str, by_company: str | None = None
) -> bool:
    """An earlier-priority booking, at ``by_company``, asks for legs of ours held there.
    Granted unless we committed; ``Conflict`` when the legs are not held at that company."""
    refused: str | None = None

    def change(t: BookingTx) -> bool:
        nonlocal refused
        refused = t.preemption_refusal(by_company, leg_indexes) if by_company else None
        return False if refused else t.wound(leg_indexes, reason)

    with ctx.store.connection():
        tx, granted = ctx.store.update_tx(tx_id, change)
    if refused:
        raise Conflict(f"preemption refused: {refused}")
    if tx is None:
        return True  # never logged here, so never committed: presumed abort
    if granted and tx.state == TxState.ABORTED:
        ctx.outbox.submit(ctx, tx)  # release the other legs without waiting
    if granted and tx.state in (TxState.ABORTED, TxState.HELD):
        ctx.notify(
            ctx.company,
            tx.car_id,
            {
                "type": "booking_preempted",
                "booking_id": tx.booking_id,
                "legs": leg_indexes,
                "reason": reason,
                "state": BOOKING_STATE[tx.state],
            },
        )
    return bool(granted)


def abort_undecided(ctx: Context, tx_id: str, why: str) -> tuple[BookingTx | None, bool]:
    """Presumed abort for a transaction left undecided (its process died, or it took too
    long). Returns the transaction and whether this aborted it (False: decided already)."""

    def change(t: BookingTx) -> bool:
        if t.decided:
            return False
        t.abort(why)
        return True

    with ctx.store.connection():
        tx, aborted = ctx.store.update_tx(tx_id, change)
    return tx, bool(aborted)


def expire_hold(ctx: Context, tx_id: str) -> BookingTx | None:
    with ctx.store.connection():
        tx, _ = ctx.store.update_tx(tx_id, lambda t: t.expire(utcnow()))
    return tx


def finish_open(ctx: Context, tx: BookingTx) -> BookingTx:
    return _send_decision(ctx, tx)


def status(ctx: Context, tx_id: str, asker: str | None = None, live: bool = False) -> dict:
    """The coordinator's view of a transaction (what a participant in doubt asks for). A peer
    ``asker`` sees it only if it takes part in it; to any other it does not exist. ``live``
    adds the booking as its driver sees it (a participant's console shows that)."""
    with ctx.store.connection():
        tx = ctx.store.get_tx(tx_id)
    if tx is None or (asker is not None and asker not in tx.companies):
        raise NotFound(f"transaction {tx_id} is unknown at company {ctx.company}")
    state = {
        TxState.COMMITTED: "committed",
        TxState.CANCELLED: "committed",
        TxState.ABORTED: "aborted",
        TxState.HELD: "held",
    }.get(tx.state, "preparing")
    return {
        "tx_id": tx.tx_id,
        "role": "coordinator",
        "state": state,
        "decision": tx.decision,
        "company": ctx.company,
        "booking_id": tx.booking_id,
        "updated_at": iso(tx.updated_at),
        "legs": [
            {
                "leg_index": leg.leg_index,
                "connector_id": leg.connector_id,
                "station_id": leg.station_id,
                "company": leg.company,
                **({"place_id": leg.place_id} if leg.place_id else {}),
                "state": leg.state.value,
                "start": iso(leg.window.start),
                "end": iso(leg.window.end),
            }
            for leg in tx.legs
        ],
        **({"booking": live_views(ctx, [tx])[0]} if live else {}),
    }
