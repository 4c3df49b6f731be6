"""The two-phase commit endpoints between company servers: thin over service.participant
(and, for a wound or a status question, service.coordinator)."""

from __future__ import annotations

from booking.errors import Conflict, InvalidRequest, NotFound, Unauthorized, problem
from booking.messages import PrepareLeg
from booking.model import Window
from handlers import serialize
from handlers.current import current
from service import coordinator, participant


def _caller(token_info) -> str:
    company = (token_info or {}).get("sub")
    if not company:
        raise Unauthorized("a peer token is required")
    return company


def prepare(tx_id, body, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    if body["coordinator"] != caller:
        raise Unauthorized(f"company {caller} cannot prepare on behalf of {body['coordinator']}")
    legs = [PrepareLeg(
        int(leg["leg_index"]), leg["station_id"], leg["connector_id"],
        _window(leg, i)) for i, leg in enumerate(body["legs"])]
    vote = participant.prepare(
        ctx, tx_id, caller, body["booking_id"],
        serialize.parse_time(body["priority_at"], "priority_at"), body["car_id"], legs,
        hold_seconds=body.get("hold_seconds"), partial=body.get("partial", False))
    held = [{"leg_index": i, "state": "held", "place_id": vote.places.get(i, "")}
            for i in vote.held]
    if vote.yes:
        return serialize.ok({"tx_id": tx_id, "role": "participant", "state": "prepared",
                             "company": ctx.company, "booking_id": body["booking_id"],
                             "legs": held})
    by_index = {leg.leg_index: leg for leg in legs}
    conflicts = [{"leg_index": i, "station_id": by_index[i].station_id,
                  "connector_id": by_index[i].connector_id, "reason": why, "alternatives": []}
                 for i, why in sorted(vote.refused.items())]
    return (problem(409, "Conflict",
                    f"{len(conflicts)} of {len(legs)} legs refused at company {ctx.company}",
                    booking_id=body["booking_id"], held=vote.held, conflicts=conflicts),
            409, {"Content-Type": "application/problem+json"})


def _window(leg: dict, i: int) -> Window:
    start = serialize.parse_time(leg["start"], f"legs[{i}].start")
    end = serialize.parse_time(leg["end"], f"legs[{i}].end")
    if end <= start:
        raise InvalidRequest(f"legs[{i}]: 'end' must be after 'start'")
    return Window(start, end)


def commit(tx_id, body=None, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    named = (body or {}).get("legs")
    legs = None if named is None else [(int(d["leg_index"]), d["connector_id"]) for d in named]
    state = participant.commit(ctx, tx_id, legs, coordinator=caller)
    return serialize.ok(_status(tx_id, state))


def abort(tx_id, body=None, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    body = body or {}
    reason = body.get("reason", "abort")
    if reason == "preempt":
        # a participant asks this coordinator to give up held legs for an earlier booking
        granted = coordinator.wound(ctx, tx_id, body.get("legs", []),
                                    body.get("detail", f"preempted at company {caller}"),
                                    by_company=caller)
        if not granted:
            raise Conflict(f"transaction {tx_id} is committed; its windows are not taken")
        return serialize.ok(_status(tx_id, "aborted", role="coordinator"))
    if reason == "cancel":
        return serialize.ok(_status(tx_id, participant.cancel(ctx, tx_id, coordinator=caller)))
    return serialize.ok(_status(tx_id, participant.abort(ctx, tx_id, caller)))


def decide_many(body, token_info=None):
    """Phase two for several transactions: each applied alone, each with its own status."""
    ctx = current()
    caller = _caller(token_info)
    results = []
    for item in body["decisions"]:
        named = item.get("legs")
        legs = None if named is None else [(int(d["leg_index"]), d["connector_id"])
                                           for d in named]
        try:
            state = participant.decide(ctx, item["tx_id"], item["decision"], caller, legs)
        except (NotFound, Conflict) as exc:
            results.append({"tx_id": item["tx_id"], "status": exc.status, "detail": exc.detail})
        else:
            results.append({"tx_id": item["tx_id"], "status": 200, "state": state})
    return serialize.ok({"results": results})


def get_transaction(tx_id, live=False, token_info=None):
    ctx = current()
    caller = _caller(token_info)
    try:  # only the transaction's coordinator and participants see it (others: 404)
        view = coordinator.status(ctx, tx_id, asker=caller, live=live)
    except NotFound:
        view = participant.status(ctx, tx_id, asker=caller)
    return serialize.ok(view)


def _status(tx_id: str, state: str, role: str = "participant") -> dict:
    return {"tx_id": tx_id, "role": role, "state": state, "company": current().company}
