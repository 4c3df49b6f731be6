"""The two-phase commit endpoints between company servers: thin over service.protocol.participant
(and, for a wound or a status question, service.protocol.coordinator); every message is read and written
by its one definition in booking.wire, which the coordinator's gateway uses too."""

from __future__ import annotations

from booking import wire
from booking.errors import Conflict, DomainError, NotFound, Unauthorized
from handlers import serialize
from handlers.current import current
from service.protocol import coordinator, participant


def _caller(token_info) -> str:
    company = (token_info or {}).get("sub")
    if not company:
        raise Unauthorized("a peer token is required")
    return company


def prepare(tx_id, body, token_info=None):
    ctx = current()
    message = wire.Prepare.from_json(body, sender=_caller(token_info))
    vote = participant.prepare(ctx, tx_id, message)
    status, answer = wire.vote_answer(vote, message, ctx.company)
    if status == 200:
        return serialize.ok(answer)
    return answer, status, {"Content-Type": "application/problem+json"}


def prepare_many(body, token_info=None):
    """Phase one for several transactions: each voted on alone, each with its own status."""
    ctx = current()
    items = wire.prepares_from_json(body, sender=_caller(token_info))
    votes = participant.prepare_all(ctx, items)
    answers = []
    for (tx_id, message), vote in zip(items, votes, strict=True):
        if isinstance(vote, DomainError):
            answers.append((tx_id, vote.status, vote.problem()))
        else:
            assert isinstance(message, wire.Prepare)
            answers.append((tx_id, *wire.vote_answer(vote, message, ctx.company)))
    return serialize.ok(wire.votes_to_json(answers))


def commit(tx_id, body=None, token_info=None):
    ctx = current()
    decision = wire.Decision.commit_from_json(tx_id, body)
    state = participant.commit(ctx, tx_id, decision.legs, coordinator=_caller(token_info))
    return serialize.ok(wire.state_answer(tx_id, state, ctx.company))


def abort(tx_id, body=None, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    reason = wire.abort_reason(body)
    if reason == "preempt":
        # a participant asks this coordinator to give up held legs for an earlier booking
        wound = wire.Wound.from_json(body or {}, caller)
        if not coordinator.wound(ctx, tx_id, wound.legs, wound.detail, by_company=caller):
            raise Conflict(f"transaction {tx_id} is committed; its windows are not taken")
        return serialize.ok(wire.state_answer(tx_id, "aborted", ctx.company, role="coordinator"))
    if reason == "cancel":
        state = participant.cancel(ctx, tx_id, coordinator=caller)
    else:
        state = participant.abort(ctx, tx_id, caller)
    return serialize.ok(wire.state_answer(tx_id, state, ctx.company))


def decide_many(body, token_info=None):
    """Phase two for several transactions: each applied alone, each with its own status."""
    decisions = [wire.Decision.from_json(item) for item in body["decisions"]]
    outcomes = participant.decide_all(current(), decisions, _caller(token_info))
    return serialize.ok(
        {
            "results": [
                wire.Acknowledgement.of(d.tx_id, outcome).to_json()
                for d, outcome in zip(decisions, outcomes, strict=True)
            ]
        }
    )


def get_transaction(tx_id, live=False, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    try:  # only the transaction's coordinator and participants see it (others: 404)
        view = coordinator.status(ctx, tx_id, asker=caller, live=live)
    except NotFound:
        view = participant.status(ctx, tx_id, asker=caller)
    return serialize.ok(view)
