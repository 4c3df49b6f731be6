"""Each booking's legs as their companies see them now, asked of every company at once: a leg
held by a phase two still on its way, charging, completed or a no-show is known only where it
is. Gathered here; ``service.protocol.answers`` then builds the views from the answers."""

from __future__ import annotations

import copy
import threading

from booking.transaction import BookingTx, LegState, TxState
from service.company import fanout
from service.company.context import Context
from service.protocol import answers

#: bookings whose every leg reached an end (completed, no-show, cancelled, aborted): their
#: view never changes again, so each process keeps it once read (every process of a company
#: reads the same final states, so no copy can disagree with another)
_finished: dict[tuple[str, str], dict] = {}
_finished_lock = threading.Lock()
_FINISHED_KEPT = 4096


def views(ctx: Context, txs: list[BookingTx], timeout: float | None = None) -> list[dict]:
    """Each booking as ``GET /bookings/{id}`` shows it, its legs' live states asked of every
    company at once (one request per company and booking, all in parallel; a company silent
    for ``timeout`` seconds leaves its legs as the log says)."""
    asks = {}
    for tx in txs:
        if (ctx.company, tx.booking_id) in _finished or tx.state not in (
            TxState.COMMITTED,
            TxState.CANCELLED,
        ):
            continue
        for company in {leg.company for leg in tx.legs if leg.state == LegState.HELD}:
            asks[f"{company} {tx.tx_id}"] = (_participant_legs, ctx, company, tx.tx_id)
    outcomes = fanout.fan_out(ctx, asks, timeout or ctx.timing.peer_timeout) if asks else {}
    views = []
    for tx in txs:
        known = _finished.get((ctx.company, tx.booking_id))
        if known is not None:
            views.append(copy.deepcopy(known))
            continue
        live: dict[int, str] = {}
        for company in {leg.company for leg in tx.legs}:
            out = outcomes.get(f"{company} {tx.tx_id}")
            if out is not None and out.answered:
                live.update(out.value)
        view = answers.booking_view(tx, live)
        if all(leg["state"] in answers.FINAL_LEGS for leg in view["legs"]) and tx.finished:
            with _finished_lock:
                while len(_finished) >= _FINISHED_KEPT:
                    _finished.pop(next(iter(_finished)))
                _finished[(ctx.company, tx.booking_id)] = copy.deepcopy(view)
        views.append(view)
    return views


def _participant_legs(ctx: Context, company: str, tx_id: str) -> dict[int, str]:
    body = ctx.gateway.participant_status(ctx, company, tx_id) or {}
    current: dict[int, str] = {}
    for item in body.get("legs", []):
        # a leg may have older rows (aborted, preempted) and one current row
        index = int(item["leg_index"])
        if item.get("state") not in ("aborted", "preempted") or index not in current:
            current[index] = str(item["state"])
    return current
