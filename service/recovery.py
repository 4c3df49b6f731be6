"""Finishing what a crash, a timeout or a silent peer left open (SPEC §4, "Failures").

One background thread per server runs ``sweep`` every few seconds:

- as coordinator, only for transactions no request of this process is working on and that are
  idle for ``idle_after`` (or were last touched before this process started: their process
  is gone): an undecided one is aborted — presumed abort; a hold whose time is up is aborted;
  every decision some company has not acknowledged is sent again;
- as participant: a prepared transaction that is not resolved after a while asks its
  coordinator and applies the answer (no record there means it never committed: abort); past
  ``in_doubt_seconds`` with the coordinator silent, the holds are released alone and the
  heuristic decision is recorded, then reconciled when the coordinator answers again;
- a held reservation whose participant record is not ``prepared`` is released and logged
  (an invariant: nothing else would ever release it);
- confirmed windows that ended unused more than ``NO_SHOW_GRACE`` ago become no-shows.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from booking.errors import Conflict, NotFound
from booking.model import ParticipantState, ReservationState, utcnow
from booking.transaction import BookingTx, TxState
from federation import PeerError
from service import coordinator, participant
from service.context import Context

log = logging.getLogger(__name__)

NO_SHOW_GRACE = timedelta(minutes=15)


class Recovery:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.started_at = utcnow()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.first_done = threading.Event()

    def start(self) -> Recovery:
        self._thread = threading.Thread(target=self._loop, name="recovery", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 1.0) -> None:
        """Ask the worker to stop and give a sweep in progress ``wait`` seconds to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _loop(self) -> None:
        first = True
        while not self._stop.is_set():
            began, error = time.monotonic(), None
            try:
                sweep(self.ctx, self.started_at, first=first)
            except Exception as exc:  # the worker must outlive any one bad record or peer
                log.exception("recovery sweep failed; trying again")
                error = f"{type(exc).__name__}: {exc}"
            self.ctx.sweeps.update(at=utcnow(), ms=round((time.monotonic() - began) * 1000, 1),
                                   error=error, every_s=self.ctx.timing.recovery_interval)
            if first:
                first = False
                self.first_done.set()
            self._stop.wait(self.ctx.timing.recovery_interval)


def sweep(ctx: Context, started_at=None, first: bool = False) -> None:
    """One pass. ``started_at``: when this process started (what was last touched before
    was left by a previous process); ``first``: the first pass since then."""
    coordinator_sweep(ctx, started_at)
    participant_sweep(ctx, first=first)
    participant.release_orphans(ctx)
    no_show_sweep(ctx)


def idle_after(ctx: Context) -> timedelta:
    """How long a transaction must be untouched before recovery takes it over (unless a
    previous process left it): a live request finishes within about twice the prepare
    timeout (a prepare round, then the decision's round)."""
    return timedelta(seconds=2 * ctx.timing.prepare_timeout + 5)


def coordinator_sweep(ctx: Context, started_at=None) -> None:
    now = utcnow()
    stale = now - idle_after(ctx)
    with ctx.store.connection():
        open_txs = ctx.store.open_txs()
    for tx in open_txs:
        if tx.tx_id in ctx.live:
            continue  # a request of this process is finishing it
        touched = tx.updated_at or tx.created_at
        left_by_crash = started_at is not None and touched < started_at
        idle = left_by_crash or touched < stale
        current: BookingTx | None = tx
        if tx.state == TxState.PREPARING and idle:
            why = ("the coordinator restarted before deciding (presumed abort)"
                   if left_by_crash else "no decision in time (presumed abort)")
            current = coordinator.abort_undecided(ctx, tx.tx_id, why)
            log.warning("tx %s: %s", tx.tx_id, why)
        elif tx.state == TxState.HELD:
            current = coordinator.expire_hold(ctx, tx.tx_id)
        if current is not None and current.decided and current.pending_messages() and idle:
            coordinator.finish_open(ctx, current)


def participant_sweep(ctx: Context, first: bool = False) -> None:
    now = utcnow()
    doubt_after = timedelta(seconds=max(3 * ctx.timing.prepare_timeout, 5))
    with ctx.store.connection():
        records = ctx.store.participants_in_doubt(now if first else now - doubt_after)
    for rec in records:
        if rec.tx_id in ctx.live:
            continue  # this server coordinates it and a request is finishing it
        if (rec.state == ParticipantState.PREPARED and rec.hold_expires_at
                and now < rec.hold_expires_at):
            continue  # a hold-mode hold still inside its stated time
        try:
            answer = ctx.gateway.coordinator_status(ctx, rec.coordinator, rec.tx_id)
        except PeerError as exc:
            if (rec.state == ParticipantState.PREPARED
                    and (now - rec.created_at).total_seconds() > ctx.timing.in_doubt_seconds):
                participant.heuristic_abort(ctx, rec, f"coordinator silent: {exc}")
            continue
        decision = answer.get("decision") if answer else "abort"
        if decision not in ("commit", "abort"):
            continue  # still preparing or held at the coordinator: ask again later
        with ctx.store.connection():
            if rec.heuristic:
                _reconcile(ctx, rec, decision, _legs_here(ctx, answer))
            else:
                participant.resolve_in_doubt(ctx, rec, decision)
                log.info("tx %s: in-doubt hold resolved by the coordinator: %s", rec.tx_id,
                         decision)


def _legs_here(ctx: Context, answer: dict | None) -> list[tuple[int, str]] | None:
    """The legs at this company a coordinator's view names, or None if it names none."""
    legs = (answer or {}).get("legs")
    if not isinstance(legs, list):
        return None
    try:
        return [(int(d["leg_index"]), str(d["connector_id"])) for d in legs
                if isinstance(d, dict) and d.get("company") == ctx.company
                and d.get("state") == "held"]
    except (KeyError, TypeError, ValueError):
        return None


def _reconcile(ctx: Context, rec, decision: str, legs: list[tuple[int, str]] | None) -> None:
    if decision == "abort":
        rec.heuristic_note = "heuristic abort agreed with the coordinator's abort"
        with ctx.store.transaction():
            ctx.store.save_participant(rec)
    else:
        try:
            participant.resolve_in_doubt(ctx, rec, "commit", legs)
        except (Conflict, NotFound) as exc:
            log.error("tx %s: heuristic abort contradicts commit: %s", rec.tx_id, exc.detail)
    log.warning("tx %s reconciled after a heuristic abort: coordinator decided %s",
                rec.tx_id, decision)


def no_show_sweep(ctx: Context) -> None:
    with ctx.store.transaction():
        late = ctx.store.expired_confirmed(utcnow() - NO_SHOW_GRACE)
        if late:
            ctx.store.set_reservation_state([r.id for r in late], ReservationState.NO_SHOW,
                                            only_from=[ReservationState.CONFIRMED])
            log.info("%d confirmed windows passed unused: no-show", len(late))
