"""How this server reaches a company for the two-phase commit: itself by a direct call to the
local role it was given, any other by its REST API. Both answer in the same shapes, so the
coordinator cannot tell them apart (SPEC §4: every company takes part "through the same code
path"). Built once by the composition root, which hands it the two local roles; the roles
reach it as ``ctx.gateway`` and never import it, so there is no cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from booking import wire
from booking.errors import NotFound
from booking.messages import PrepareLeg, Vote
from booking.model import Window
from booking.transaction import BookingTx, TxLeg
from federation import PeerError
from service.company.context import Context
from service.company.inputs import iso
from service.company.ports import CoordinatorRole, ParticipantRole
from service.protocol.coalesce import Coalescer

#: How long a prepare waits for the round in flight to its company before it leaves in a
#: round of its own (a share of the prepare timeout): under load, prepares coalesce
#: (``service.protocol.coalesce``); a round held up, by a participant wounding a booking
#: for instance, does not hold the next ones back for longer.
COALESCE_WAIT = 0.1


@dataclass(frozen=True)
class _Prepare:
    """One prepare waiting for its round."""

    ctx: Context
    tx_id: str
    message: wire.Prepare


def _vote(item: _Prepare, company: str, status: int, body: dict) -> Vote | PeerError:
    """A participant's answer to one prepare: its vote, or, for a 5xx (an item of
    ``POST /prepares`` the participant could not serve), that company's failure."""
    if status >= 500:
        return PeerError(
            f"company {company} answered {status} to a prepare: {body.get('detail', '')}"
        )
    try:
        return wire.vote_from_answer(
            item.tx_id, company, [leg.leg_index for leg in item.message.legs], status, body
        )
    except wire.MalformedReply as exc:
        return PeerError(str(exc))


class Gateway:
    """``service.company.ports.Peers``: a company reached by a direct call or by its REST API."""

    def __init__(self, participant: ParticipantRole, coordinator: CoordinatorRole):
        """``participant``: this company's participant role (the module
        ``service.protocol.participant``); ``coordinator``: its coordinator role
        (``service.protocol.coordinator``)."""
        self.participant = participant
        self.coordinator = coordinator
        self._prepares: Coalescer[_Prepare, Vote] = Coalescer(
            self._send_prepares, wire.MAX_PREPARES
        )

    def _peer(self, ctx: Context, company: str) -> dict:
        peer = ctx.peers().get(company) or ctx.peers(refresh=True).get(company)
        if peer is None:
            raise PeerError(f"company {company!r} is not a registered peer of {ctx.company!r}")
        return peer

    def catalog(
        self, ctx: Context, company: str, since: int | None = None, if_none_match: int | None = None
    ) -> dict | None:
        """A peer's static catalog (``since``: only what changed after that version), or
        None when it answered 304 to ``if_none_match``."""
        params = {} if since is None else {"since": since}
        headers = {} if if_none_match is None else {"If-None-Match": f'"{if_none_match}"'}
        reply = self._call(
            ctx,
            company,
            "GET",
            "/catalog",
            params=params,
            headers=headers,
            timeout=ctx.timing.peer_timeout,
        )
        if reply.status == 304:
            return None
        try:
            if reply.status != 200:
                raise PeerError(f"company {company} answered {reply.status} to GET /catalog")
            body = reply.body
            stations = [_static(s) for s in body["stations"] if s["company"] == company]
            if len(stations) != len(body["stations"]):
                raise PeerError(f"company {company} listed other companies' stations")
            return {
                "version": int(body["version"]),
                "stations": stations,
                "removed": [str(i) for i in body.get("removed", [])],
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise PeerError(f"company {company} sent a malformed catalog: {exc!r}") from exc

    def availability(
        self, ctx: Context, company: str, span: Window, places: list[str] | None
    ) -> dict:
        """What changes often at a peer's stations at ``places`` (all when None): the status
        of those not available and the busy windows of every connector in ``span``."""
        body: dict[str, Any] = {"from": iso(span.start), "to": iso(span.end)}
        if places is not None:
            body["places"] = places
        reply = self._call(
            ctx, company, "POST", "/availability", json=body, timeout=ctx.timing.peer_timeout
        )
        if reply.status != 200:
            raise PeerError(f"company {company} answered {reply.status} to POST /availability")
        return reply.body

    def notify_catalog(self, ctx: Context, company: str) -> None:
        self._call(
            ctx,
            company,
            "POST",
            "/catalog/notify",
            json={"company": ctx.company},
            timeout=ctx.timing.peer_timeout,
        )

    def _call(
        self,
        ctx: Context,
        company: str,
        method: str,
        path: str,
        timeout: float | None = None,
        **kwargs,
    ):
        peer = self._peer(ctx, company)
        reply = ctx.client.call(
            peer["url"], method, path, token=peer["token_out"], timeout=timeout, **kwargs
        )
        if reply.status == 401:
            raise PeerError(f"company {company} refused our credentials (401); register again")
        return reply

    def prepare(
        self,
        ctx: Context,
        company: str,
        tx: BookingTx,
        legs: list[TxLeg],
        hold_seconds: int | None,
        partial: bool,
    ) -> Vote:
        message = wire.Prepare(
            ctx.company,
            tx.booking_id,
            tx.priority_at,
            tx.car_id,
            [
                PrepareLeg(leg.leg_index, leg.station_id, leg.connector_id, leg.window)
                for leg in legs
            ],
            hold_seconds=hold_seconds,
            partial=partial,
        )
        if company == ctx.company:
            return self.participant.prepare(ctx, tx.tx_id, message)
        return self._prepares.call(
            company,
            _Prepare(ctx, tx.tx_id, message),
            max_wait=COALESCE_WAIT * ctx.timing.prepare_timeout,
        )

    def prepares_queued(self, company: str) -> int:
        """Prepares to ``company`` waiting for the round in flight to it to come back."""
        return self._prepares.queued(company)

    def _send_prepares(self, company: str, items: list[_Prepare]) -> list[Vote | PeerError]:
        """One round of prepares to a peer: alone, the contract's own endpoint for it;
        several, one ``POST /prepares``. One vote per item, or the failure that item met."""
        ctx = items[0].ctx
        ctx.faults.hit("prepare_round", company)  # tests: prepares queue up behind it
        if len(items) == 1:
            [item] = items
            reply = self._call(
                ctx,
                company,
                "POST",
                f"/transactions/{item.tx_id}/prepare",
                json=item.message.to_json(),
                timeout=ctx.timing.prepare_timeout,
            )
            return [_vote(item, company, reply.status, reply.body)]
        reply = self._call(
            ctx,
            company,
            "POST",
            "/prepares",
            json=wire.prepares_to_json([(i.tx_id, i.message) for i in items]),
            timeout=ctx.timing.prepare_timeout,
        )
        if reply.status != 200:
            raise PeerError(
                f"company {company} answered {reply.status} to {len(items)} prepares: "
                f"{reply.body.get('detail', '')}"
            )
        try:
            answers = wire.votes_from_json(reply.body, [i.tx_id for i in items])
        except wire.MalformedReply as exc:
            raise PeerError(f"company {company}: {exc}") from exc
        return [
            _vote(item, company, status, answer)
            for item, (status, answer) in zip(items, answers, strict=True)
        ]

    def finish(
        self, ctx: Context, company: str, items: list[tuple[BookingTx, str]]
    ) -> list[str | Exception]:
        """Send phase two (commit, abort or cancel) of several transactions to one company,
        coalesced in one message when it is a peer. One result per item, in order: the
        participant's state afterwards, or the ``NotFound`` / ``Conflict`` it answered."""
        decisions = [_decision(tx, message, company) for tx, message in items]
        if company == ctx.company:
            return list(self.participant.decide_all(ctx, decisions, ctx.company))
        if len(items) == 1:  # one message: the contract's own endpoint for it
            return [self._finish_one(ctx, company, *items[0])]
        reply = self._call(
            ctx, company, "POST", "/decisions", json={"decisions": [d.to_json() for d in decisions]}
        )
        if reply.status != 200:
            raise PeerError(
                f"company {company} answered {reply.status} to phase two: "
                f"{reply.body.get('detail', '')}"
            )
        try:
            results = {
                r.tx_id: r for r in map(wire.Acknowledgement.from_json, reply.body["results"])
            }
            return [results[tx.tx_id].result(company) for tx, _ in items]
        except (KeyError, TypeError, AttributeError, wire.MalformedReply) as exc:
            raise PeerError(f"company {company} answered phase two with a malformed body") from exc

    def _finish_one(
        self, ctx: Context, company: str, tx: BookingTx, message: str
    ) -> str | Exception:
        decision = _decision(tx, message, company)
        if message == "commit":
            reply = self._call(
                ctx,
                company,
                "POST",
                f"/transactions/{tx.tx_id}/commit",
                json=decision.commit_body(),
            )
        else:
            reply = self._call(
                ctx, company, "POST", f"/transactions/{tx.tx_id}/abort", json=decision.abort_body()
            )
        try:
            return wire.Acknowledgement.from_json(
                {"tx_id": tx.tx_id, "state": message, **reply.body, "status": reply.status}
            ).result(company)
        except wire.MalformedReply as exc:
            raise PeerError(str(exc)) from exc

    def wound(
        self,
        ctx: Context,
        coordinator: str,
        tx_id: str,
        leg_indexes: list[int],
        reason: str,
        timeout: float | None = None,
    ) -> bool:
        """Ask a booking's coordinator to give up held legs for an earlier-priority booking
        (waiting at most ``timeout``, else the peer timeout; silence is a no)."""
        if coordinator == ctx.company:
            return self.coordinator.wound(ctx, tx_id, leg_indexes, reason, ctx.company)
        try:
            reply = self._call(
                ctx,
                coordinator,
                "POST",
                f"/transactions/{tx_id}/abort",
                json=wire.Wound(leg_indexes, reason).to_json(),
                timeout=timeout or ctx.timing.peer_timeout,
            )
        except PeerError:
            return False  # cannot know it has not committed: the hold stays
        # 404: the coordinator never logged it, so it can never commit it (presumed abort)
        return reply.status in (200, 404)

    def coordinator_status(self, ctx: Context, coordinator: str, tx_id: str) -> dict | None:
        """The coordinator's view of a transaction, or None when it has no record of it."""
        return self._transaction_view(ctx, coordinator, tx_id, self.coordinator.status)

    def coordinator_booking(self, ctx: Context, coordinator: str, tx_id: str) -> dict | None:
        """The booking of a transaction as its driver sees it (``GET /bookings/{id}``), asked
        of its coordinator, or None when it has no record of it."""
        view = self._transaction_view(
            ctx,
            coordinator,
            tx_id,
            lambda c, t: self.coordinator.status(c, t, live=True),
            query="?live=true",
        )
        return None if view is None else view.get("booking")

    def participant_status(self, ctx: Context, company: str, tx_id: str) -> dict | None:
        """A company's own view of its legs of a transaction, or None when it knows nothing."""
        return self._transaction_view(ctx, company, tx_id, self.participant.status)

    def _transaction_view(
        self, ctx: Context, company: str, tx_id: str, local, query: str = ""
    ) -> dict | None:
        """``GET /transactions/{tx_id}`` at ``company`` (``local`` when it is this one)."""
        if company == ctx.company:
            try:
                return local(ctx, tx_id)
            except NotFound:
                return None
        reply = self._call(
            ctx, company, "GET", f"/transactions/{tx_id}{query}", timeout=ctx.timing.peer_timeout
        )
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise PeerError(f"company {company} answered {reply.status} about {tx_id}")
        return reply.body


def _static(item: dict) -> dict:
    """A peer's catalog entry, checked once when it is copied (plans then trust it)."""
    return {
        "id": str(item["id"]),
        "company": str(item["company"]),
        "place_id": str(item["place_id"]),
        "name": str(item.get("name", "")),
        "connectors": [
            {
                "id": str(c["id"]),
                "power_kw": _number(c["power_kw"]),
                "price_per_kwh": _number(c["price_per_kwh"]),
                "standard": str(c.get("standard", "CCS2")),
            }
            for c in item["connectors"]
        ],
    }


def _number(value) -> float:
    """A peer's number: finite and not negative, or the whole answer is malformed."""
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"not a usable number: {value!r}")
    return out


def _held(tx: BookingTx, company: str) -> list[tuple[int, str]]:
    return [(leg.leg_index, leg.connector_id) for leg in tx.held_legs_of(company)]


def _decision(tx: BookingTx, message: str, company: str) -> wire.Decision:
    """Phase two of ``tx`` for ``company``: a commit names the legs held there."""
    return wire.Decision(tx.tx_id, message, _held(tx, company) if message == "commit" else None)
