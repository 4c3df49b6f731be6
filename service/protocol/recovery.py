"""Finishing what a crash, a timeout or a silent peer left open (SPEC §4, "Failures").

A background thread in every process of the company runs ``sweep`` every few seconds — in the
one process elected through the database (``storage.election``) at a time, so two processes
never work the same backlog; the others stand by and take over when it dies:

- as coordinator, only for transactions no process is working on: each names the process
  working on it and until when (a lease in the database, renewed while a request or its phase
  two works on it, ``storage/processes.py``); recovery takes over one whose lease ran out or
  whose process is dead (stopped beating, or restarted) — an undecided one is aborted
  (presumed abort), every decision some company has not acknowledged is sent again, whichever
  process decided it; a hold whose stated time is up is aborted;
- as participant: a prepared transaction that is not resolved after a while asks its
  coordinator and applies the answer (no record there means it never committed: abort); past
  ``in_doubt_seconds`` with the coordinator silent, the holds are released alone and the
  heuristic decision is recorded, then reconciled when the coordinator answers again;
- a held reservation whose participant record is not ``prepared`` is released and logged
  (an invariant: nothing else would ever release it);
- confirmed windows not started within their grace (``booking.session``) become no-shows.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from booking import session
from booking.errors import Conflict, NotFound
from booking.model import ParticipantState, ReservationState, utcnow
from booking.transaction import BookingTx, TxState
from federation import PeerError
from service.company import processes
from service.company.context import Context
from service.protocol import coordinator, participant
from storage.election import Election

log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, ctx: Context, election: Election | None = None):
        self.ctx = ctx
        self.election = election  # None: this process is the company's only one
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Recovery:
        self._thread = threading.Thread(target=self._loop, name="recovery", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 1.0) -> None:
        """Ask the worker to stop and give a sweep in progress ``wait`` seconds to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
        if self.election is not None:
            self.election.resign()

    def _loop(self) -> None:
        first = True
        while not self._stop.is_set():
            began, error = time.monotonic(), None
            leading = self.election is None or self.election.lead()
            try:
                if leading:
                    sweep(self.ctx, first=first)
            except Exception as exc:  # the worker must outlive any one bad record or peer
                log.exception("recovery sweep failed; trying again")
                error = f"{type(exc).__name__}: {exc}"
            self.ctx.sweeps.update(
                at=utcnow(),
                ms=round((time.monotonic() - began) * 1000, 1),
                error=error,
                every_s=self.ctx.timing.recovery_interval,
                standby=not leading,
            )
            if first and leading:
                first = False
            self._stop.wait(self.ctx.timing.recovery_interval)


def sweep(ctx: Context, first: bool = False) -> None:
    """One pass. ``first``: the first pass of this process as the company's worker."""
    coordinator_sweep(ctx)
    participant_sweep(ctx, first=first)
    participant.release_orphans(ctx)
    no_show_sweep(ctx)


def idle_after(ctx: Context) -> timedelta:
    """A transaction's lease: how long it stays its process's without renewal. A live request
    finishes within about twice the prepare timeout (a prepare round, then the decision's
    round), and its process renews the lease every second meanwhile."""
    return timedelta(seconds=2 * ctx.timing.prepare_timeout + 5)


def coordinator_sweep(ctx: Context) -> None:
    with ctx.store.connection():
        open_txs = ctx.store.open_txs()
        dead = ctx.store.dead_processes(processes.DEAD_AFTER) if open_txs else set()
    for tx in open_txs:
        if tx.tx_id in ctx.live:
            continue  # a request of this process is finishing it
        current: BookingTx | None = tx
        if tx.state == TxState.HELD:  # its stated time is up, whoever runs this
            current = coordinator.expire_hold(ctx, tx.tx_id)
        orphaned = tx.lease_owner is not None and tx.lease_owner in dead
        expired = tx.lease_until is None or tx.lease_until < utcnow()
        if current is None or not (orphaned or expired):
            continue  # a live process is working on it
        undecided = current.state == TxState.PREPARING
        if not (undecided or (current.decided and current.pending_messages())):
            continue
        with ctx.store.connection():
            if not ctx.store.claim_tx(tx.tx_id, dead):
                continue  # another process took it up meanwhile
        if undecided:
            why = (
                "its coordinator process stopped before deciding (presumed abort)"
                if orphaned
                else "no decision in time (presumed abort)"
            )
            current, aborted = coordinator.abort_undecided(ctx, tx.tx_id, why)
            if aborted:  # a warning only for what this changed
                log.warning("tx %s: %s", tx.tx_id, why)
        if current is not None and current.decided and current.pending_messages():
            coordinator.finish_open(ctx, current)


def participant_sweep(ctx: Context, first: bool = False) -> None:
    now = utcnow()
    doubt_after = timedelta(seconds=max(3 * ctx.timing.prepare_timeout, 5))
    with ctx.store.connection():
        records = ctx.store.participants_in_doubt(now if first else now - doubt_after)
    for rec in records:
        if rec.tx_id in ctx.live:
            continue  # this server coordinates it and a request is finishing it
        if (
            rec.state == ParticipantState.PREPARED
            and rec.hold_expires_at
            and now < rec.hold_expires_at
        ):
            continue  # a hold-mode hold still inside its stated time
        try:
            decision, answer = participant.coordinator_decision(ctx, rec)
        except PeerError as exc:
            if (
                rec.state == ParticipantState.PREPARED
                and (now - rec.created_at).total_seconds() > ctx.timing.in_doubt_seconds
            ):
                participant.heuristic_abort(ctx, rec, f"coordinator silent: {exc}")
            continue
        if decision is None:
            continue  # still preparing or held at the coordinator: ask again later
        with ctx.store.connection():
            if rec.heuristic:
                _reconcile(ctx, rec, decision, _legs_here(ctx, answer))
            else:
                participant.resolve_in_doubt(ctx, rec, decision)
                log.info(
                    "tx %s: in-doubt hold resolved by the coordinator: %s", rec.tx_id, decision
                )


def _legs_here(ctx: Context, answer: dict | None) -> list[tuple[int, str]] | None:
    """The legs at this company a coordinator's view names, or None if it names none."""
    legs = (answer or {}).get("legs")
    if not isinstance(legs, list):
        return None
    try:
        return [
            (int(d["leg_index"]), str(d["connector_id"]))
            for d in legs
            if isinstance(d, dict) and d.get("company") == ctx.company and d.get("state") == "held"
        ]
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
    log.warning(
        "tx %s reconciled after a heuristic abort: coordinator decided %s", rec.tx_id, decision
    )


def no_show_sweep(ctx: Context) -> None:
    with ctx.store.transaction():
        late = ctx.store.unstarted_confirmed(session.no_show_before(ctx.clock.now()))
        if late:
            ctx.store.set_reservation_state(
                [r.id for r in late],
                ReservationState.NO_SHOW,
                only_from=[ReservationState.CONFIRMED],
            )
            log.info("%d confirmed windows passed unused: no-show", len(late))
