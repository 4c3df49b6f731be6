"""The two-phase commit's messages as JSON, each defined once for both ends: the coordinator's
gateway writes and reads them (``service.protocol.gateway``), the participant's REST adapter reads and
writes them (``handlers.transactions``) — as ``ocpp`` defines each call once for both sides.

A message read from a peer that does not have its shape raises ``MalformedReply`` (the gateway
turns it into "that company answered badly"); one a peer sends that breaks the rules raises
the domain error it stands for (a 400 or a 401 to that peer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from booking.errors import Conflict, DomainError, InvalidRequest, NotFound, Unauthorized, problem
from booking.messages import PrepareLeg, Vote
from booking.model import Window
from booking.times import iso, parse_time

#: The phase-two messages a coordinator sends.
DECISIONS = ("commit", "abort", "cancel")


class MalformedReply(ValueError):
    """A peer's answer without the shape of the message it stands for."""


def _window(leg: Mapping[str, Any], i: int) -> Window:
    start = parse_time(leg["start"], f"legs[{i}].start")
    end = parse_time(leg["end"], f"legs[{i}].end")
    if end <= start:
        raise InvalidRequest(f"legs[{i}]: 'end' must be after 'start'")
    return Window(start, end)


@dataclass(frozen=True)
class Prepare:
    """``POST /transactions/{tx_id}/prepare``: hold these legs for this booking."""

    coordinator: str
    booking_id: str
    priority_at: datetime
    car_id: str
    legs: list[PrepareLeg]
    hold_seconds: int | None = None
    partial: bool = False

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "coordinator": self.coordinator,
            "booking_id": self.booking_id,
            "priority_at": iso(self.priority_at),
            "car_id": self.car_id,
            "partial": self.partial,
            "legs": [
                {
                    "leg_index": leg.leg_index,
                    "station_id": leg.station_id,
                    "connector_id": leg.connector_id,
                    "start": iso(leg.window.start),
                    "end": iso(leg.window.end),
                }
                for leg in self.legs
            ],
        }
        if self.hold_seconds:
            body["hold_seconds"] = self.hold_seconds
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any], sender: str) -> Prepare:
        """The prepare a peer sent (its shape checked by the contract). ``sender``: the company
        its token names, which must be the coordinator it speaks for."""
        if body["coordinator"] != sender:
            raise Unauthorized(
                f"company {sender} cannot prepare on behalf of {body['coordinator']}"
            )
        return cls(
            coordinator=sender,
            booking_id=body["booking_id"],
            priority_at=parse_time(body["priority_at"], "priority_at"),
            car_id=body["car_id"],
            legs=[
                PrepareLeg(
                    int(leg["leg_index"]), leg["station_id"], leg["connector_id"], _window(leg, i)
                )
                for i, leg in enumerate(body["legs"])
            ],
            hold_seconds=body.get("hold_seconds"),
            partial=bool(body.get("partial")),
        )


#: Prepares per ``POST /prepares`` (the contract's limit).
MAX_PREPARES = 32


def prepares_to_json(items: Sequence[tuple[str, Prepare]]) -> dict[str, Any]:
    """``POST /prepares``: several transactions' prepares to one company, in one message."""
    return {"prepares": [{"tx_id": tx_id, "prepare": p.to_json()} for tx_id, p in items]}


def prepares_from_json(
    body: Mapping[str, Any], sender: str
) -> list[tuple[str, Prepare | DomainError]]:
    """Each item of a ``POST /prepares``: its prepare, or the error that item alone is
    answered with (one item breaking a rule does not refuse the others)."""
    out: list[tuple[str, Prepare | DomainError]] = []
    for item in body["prepares"]:
        try:
            out.append((item["tx_id"], Prepare.from_json(item["prepare"], sender)))
        except DomainError as exc:
            out.append((item["tx_id"], exc))
    return out


def votes_to_json(answers: Sequence[tuple[str, int, Mapping[str, Any]]]) -> dict[str, Any]:
    """The answer to ``POST /prepares``: per item, in order, the status and the body the
    single prepare would have been answered with."""
    return {
        "votes": [
            {"tx_id": tx_id, "status": status, "answer": dict(answer)}
            for tx_id, status, answer in answers
        ]
    }


def votes_from_json(
    body: Mapping[str, Any], tx_ids: Sequence[str]
) -> list[tuple[int, dict[str, Any]]]:
    """Each prepare's (status, answer) from a ``POST /prepares`` answer, in the order of
    ``tx_ids``, the transactions asked (each read then by ``vote_from_answer``)."""
    try:
        votes = list(body["votes"])
        if [v["tx_id"] for v in votes] != list(tx_ids):
            raise MalformedReply("the votes do not answer the prepares sent, in their order")
        out = []
        for v in votes:
            status, answer = v["status"], v["answer"]
            if not isinstance(status, int) or not isinstance(answer, dict):
                raise MalformedReply("a vote without a status and an answer")
            out.append((status, answer))
        return out
    except (KeyError, TypeError) as exc:
        raise MalformedReply("an answer to prepares without their votes") from exc


def vote_answer(vote: Vote, prepare: Prepare, company: str) -> tuple[int, dict[str, Any]]:
    """A participant's vote as its answer to the prepare: 200 with the legs it holds, or a 409
    problem naming the refused legs (and those it holds, when it was asked for a partial
    hold)."""
    if vote.yes:
        return 200, {
            "tx_id": vote.tx_id,
            "role": "participant",
            "state": "prepared",
            "company": company,
            "booking_id": prepare.booking_id,
            "legs": [
                {"leg_index": i, "state": "held", "place_id": vote.places.get(i, "")}
                for i in vote.held
            ],
        }
    by_index = {leg.leg_index: leg for leg in prepare.legs}
    conflicts = [
        {
            "leg_index": i,
            "station_id": by_index[i].station_id,
            "connector_id": by_index[i].connector_id,
            "reason": why,
            "alternatives": [],
        }
        for i, why in sorted(vote.refused.items())
    ]
    return 409, problem(
        409,
        "Conflict",
        f"{len(conflicts)} of {len(prepare.legs)} legs refused at company {company}",
        booking_id=prepare.booking_id,
        held=vote.held,
        conflicts=conflicts,
    )


def vote_from_answer(
    tx_id: str, company: str, asked: Sequence[int], status: int, body: Mapping[str, Any]
) -> Vote:
    """What a participant's answer to a prepare says about the legs ``asked``. A refusal
    without a 409 (any other status) refuses every leg asked, with the company's words."""
    vote = Vote(tx_id, company)
    wanted = set(asked)
    try:
        if status == 200:
            for item in body.get("legs", []):
                if item["leg_index"] in wanted and item.get("state") == "held":
                    vote.held.append(item["leg_index"])
                    if item.get("place_id"):
                        vote.places[item["leg_index"]] = item["place_id"]
        elif status == 409:
            vote.held = [i for i in body.get("held", []) if i in wanted]
            for item in body.get("conflicts", []):
                vote.refused[item["leg_index"]] = str(item.get("reason", "refused"))
        else:
            detail = body.get("detail", "")
            for i in asked:
                vote.refused[i] = f"company {company} refused the prepare ({status}): {detail}"
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedReply(f"company {company} answered a prepare with a malformed body") from exc
    missing = wanted - set(vote.held) - set(vote.refused)
    if missing and status == 200:
        raise MalformedReply(f"company {company} voted yes without holding legs {sorted(missing)}")
    # legs a refusing company did not mention were not tried (all or nothing there): they
    # stay pending, exactly as when this company is the participant, and are not conflicts
    return vote


LegKeys = list[tuple[int, str]]  # (leg index, connector id): the legs a commit names


def _legs_json(legs: LegKeys) -> list[dict[str, Any]]:
    return [{"leg_index": i, "connector_id": c} for i, c in legs]


def _legs_from_json(named: Sequence[Mapping[str, Any]] | None) -> LegKeys | None:
    return None if named is None else [(int(d["leg_index"]), str(d["connector_id"])) for d in named]


@dataclass(frozen=True)
class Decision:
    """One transaction's phase two: ``commit`` (naming the legs held there), ``abort`` or
    ``cancel``. Alone it is ``POST /transactions/{tx_id}/commit`` (``commit_body``) or
    ``…/abort`` (``abort_body``); several to one company are ``POST /decisions``."""

    tx_id: str
    decision: str
    legs: LegKeys | None = None

    def commit_body(self) -> dict[str, Any]:
        return {"legs": _legs_json(self.legs or [])}

    def abort_body(self) -> dict[str, Any]:
        return {"reason": self.decision}

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"tx_id": self.tx_id, "decision": self.decision}
        if self.decision == "commit":
            item["legs"] = _legs_json(self.legs or [])
        return item

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Decision:
        return cls(item["tx_id"], item["decision"], _legs_from_json(item.get("legs")))

    @classmethod
    def commit_from_json(cls, tx_id: str, body: Mapping[str, Any] | None) -> Decision:
        return cls(tx_id, "commit", _legs_from_json((body or {}).get("legs")))


@dataclass(frozen=True)
class Wound:
    """``POST /transactions/{tx_id}/abort`` with reason ``preempt``, to a coordinator: give up
    these held legs for a booking of earlier priority."""

    legs: list[int]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"reason": "preempt", "legs": self.legs, "detail": self.detail}

    @classmethod
    def from_json(cls, body: Mapping[str, Any], sender: str) -> Wound:
        return cls(list(body.get("legs", [])), body.get("detail", f"preempted at company {sender}"))


def abort_reason(body: Mapping[str, Any] | None) -> str:
    """What an ``…/abort`` asks: ``abort`` (phase two), ``cancel`` (a driver's cancellation) or
    ``preempt`` (a wound, to the coordinator)."""
    return str((body or {}).get("reason", "abort"))


def state_answer(tx_id: str, state: str, company: str, role: str = "participant") -> dict[str, Any]:
    """The answer to one phase-two message (or a wound): the transaction's state there."""
    return {"tx_id": tx_id, "role": role, "state": state, "company": company}


@dataclass(frozen=True)
class Acknowledgement:
    """One transaction's result in a phase-two answer: the participant's state after it
    (status 200), or the refusal it stands for (404 unknown there, 409 refused)."""

    tx_id: str
    status: int
    state: str = ""
    detail: str = ""

    @classmethod
    def of(cls, tx_id: str, outcome: str | DomainError) -> Acknowledgement:
        if isinstance(outcome, DomainError):
            return cls(tx_id, outcome.status, detail=outcome.detail)
        return cls(tx_id, 200, state=outcome)

    def to_json(self) -> dict[str, Any]:
        if self.status == 200:
            return {"tx_id": self.tx_id, "status": 200, "state": self.state}
        return {"tx_id": self.tx_id, "status": self.status, "detail": self.detail}

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Acknowledgement:
        try:
            return cls(
                str(item["tx_id"]),
                int(item["status"]),
                str(item.get("state", "unknown")),
                str(item.get("detail", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedReply("a phase-two result without its shape") from exc

    def result(self, company: str) -> str | Exception:
        """The participant's state, or the ``NotFound`` / ``Conflict`` it answered; any other
        status is a ``MalformedReply``."""
        if self.status == 200:
            return self.state
        if self.status == 404:
            return NotFound(self.detail)
        if self.status == 409:
            return Conflict(self.detail)
        raise MalformedReply(
            f"company {company} answered {self.status} to a phase-two message: {self.detail}"
        )
