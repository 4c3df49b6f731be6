"""The coordinator's side of a booking's two-phase commit, as a pure state machine.

The coordinator keeps one ``BookingTx`` per booking in its durable log. Every change below is
applied to the log under a row lock (``storage``) *before* the coordinator acts on it, so a
crash at any point leaves a log that recovery can finish:

    PREPARING --all legs held--------------> COMMITTED --driver cancels--> CANCELLED
        |  \\--a leg refused, hold mode----> HELD --replacements--> PREPARING
        |                                     \\--hold expires / gives up--> ABORTED
        \\--refused, unreachable, wounded, crash before deciding (presumed abort)--> ABORTED

``decision`` (commit | abort) is written once and never changes. A *wound* is an
earlier-priority booking asking to take one of our held legs: it is granted unless the
decision is already commit, and in the default mode it aborts the whole booking.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from booking.model import Window


class TxState(enum.StrEnum):
    PREPARING = "preparing"
    HELD = "held"  # hold mode: some legs refused, the rest held while the client replaces them
    COMMITTED = "committed"
    ABORTED = "aborted"
    CANCELLED = "cancelled"


class LegState(enum.StrEnum):
    PENDING = "pending"  # prepare sent, no vote yet
    HELD = "held"
    CONFLICT = "conflict"  # refused by the participant
    PREEMPTED = "preempted"  # taken by an earlier-priority booking
    UNREACHABLE = "unreachable"  # the participant did not answer in time


class Mode(enum.StrEnum):
    DEFAULT = "default"  # a refusal releases everything at once
    HOLD = "hold"  # a refusal keeps the other legs held for a stated time


#: Booking states shown to clients, by transaction state.
BOOKING_STATE = {
    TxState.PREPARING: "preparing",
    TxState.HELD: "held",
    TxState.COMMITTED: "confirmed",
    TxState.ABORTED: "aborted",
    TxState.CANCELLED: "cancelled",
}


@dataclass
class TxLeg:
    leg_index: int
    company: str
    station_id: str
    connector_id: str
    window: Window
    state: LegState = LegState.PENDING
    reason: str | None = None
    place_id: str | None = None


@dataclass
class BookingTx:
    tx_id: str
    booking_id: str
    coordinator: str
    car_id: str
    mode: Mode
    priority_at: datetime
    legs: list[TxLeg]
    created_at: datetime
    state: TxState = TxState.PREPARING
    decision: str | None = None  # "commit" | "abort", written once
    reason: str | None = None  # why it was aborted, for the client
    hold_expires_at: datetime | None = None
    acks: dict[str, str] = field(default_factory=dict)  # company -> last message it acknowledged
    idempotency_key: str | None = None
    request_sha256: str | None = None
    result: dict[str, Any] | None = (
        None  # the answer given to the client, for Idempotency-Key replays
    )
    updated_at: datetime | None = None
    owner: str | None = None  # who made it ("driver:<id>", "car:<id>", "admin")
    # the trip the legs serve, as the client sent it (``trip`` of a plan's answer): with it,
    # a refused leg's alternatives are checked against the whole trip re-simulated
    trip: dict[str, Any] | None = None
    # the server process working on it and until when (a company may run several processes;
    # recovery takes over only an expired lease or a dead process's work)
    lease_owner: str | None = None
    lease_until: datetime | None = None

    def visible_to(self, caller: str | None) -> bool:
        """Only its owner and the admin see a booking (``None``: a trusted internal caller)."""
        return caller is None or caller == "admin" or caller == self.owner

    # -- reading ----------------------------------------------------------------------------

    @property
    def companies(self) -> list[str]:
        """Every company this booking has asked to hold something, in leg order."""
        return list(dict.fromkeys(leg.company for leg in self.legs))

    def legs_of(self, company: str) -> list[TxLeg]:
        return [leg for leg in self.legs if leg.company == company]

    def leg(self, leg_index: int) -> TxLeg:
        for leg in self.legs:
            if leg.leg_index == leg_index:
                return leg
        raise KeyError(leg_index)

    @property
    def refused_legs(self) -> list[TxLeg]:
        return [
            leg
            for leg in self.legs
            if leg.state in (LegState.CONFLICT, LegState.PREEMPTED, LegState.UNREACHABLE)
        ]

    @property
    def finished(self) -> bool:
        """Nothing left to tell any participant."""
        return self.decided and not self.pending_messages()

    @property
    def decided(self) -> bool:
        return self.state in (TxState.COMMITTED, TxState.ABORTED, TxState.CANCELLED)

    def pending_messages(self) -> dict[str, str]:
        """Company -> the phase-two message it has not acknowledged yet.

        Every company ever asked gets the decision: a commit names the legs to confirm there
        (possibly none), so a participant never confirms a hold the log does not know of.
        """
        message = {
            TxState.COMMITTED: "commit",
            TxState.ABORTED: "abort",
            TxState.CANCELLED: "cancel",
        }.get(self.state)
        if message is None:
            return {}
        return {c: message for c in self.companies_asked if self.acks.get(c) != message}

    @property
    def companies_asked(self) -> list[str]:
        """Companies that were ever sent a prepare (including replaced legs' companies)."""
        return list(dict.fromkeys([*self.companies, *self.acks]))

    def held_legs_of(self, company: str) -> list[TxLeg]:
        return [leg for leg in self.legs_of(company) if leg.state == LegState.HELD]

    # -- transitions ------------------------------------------------------------------------

    def record_vote(
        self,
        company: str,
        held: list[int],
        refused: dict[int, str],
        places: dict[int, str] | None = None,
    ) -> None:
        """A participant's answer to a prepare: which of its legs it holds, which it refuses."""
        places = places or {}
        self.acks.setdefault(company, "prepare")
        if self.decided:
            return  # a vote arriving after the decision (e.g. after a wound) changes nothing
        for leg in self.legs_of(company):
            if leg.leg_index in places:
                leg.place_id = places[leg.leg_index]
            if leg.state == LegState.PREEMPTED:
                continue  # a wound may arrive before the vote that it overtook
            if leg.leg_index in refused:
                leg.state, leg.reason = LegState.CONFLICT, refused[leg.leg_index]
            elif leg.leg_index in held:
                leg.state, leg.reason = LegState.HELD, None

    def record_unreachable(self, company: str, reason: str) -> None:
        self.acks.setdefault(company, "prepare")
        if self.decided:
            return
        for leg in self.legs_of(company):
            if leg.state == LegState.PENDING:
                leg.state, leg.reason = LegState.UNREACHABLE, reason

    def decide(self, now: datetime, hold_for: timedelta) -> None:
        """After a round of prepares: commit, abort or (hold mode) wait for replacements."""
        if self.decided:
            return
        if all(leg.state == LegState.HELD for leg in self.legs):
            self.state, self.decision, self.reason = TxState.COMMITTED, "commit", None
            self.hold_expires_at = None
            return
        # a leg still pending belongs to a company that answered but stopped at another of its
        # legs (all or nothing there): not a silence, and the refusal is the reason to give
        unreachable = [leg for leg in self.legs if leg.state == LegState.UNREACHABLE]
        if unreachable:
            why = unreachable[0].reason or "no answer in time"
            self.abort(f"company {unreachable[0].company} did not answer the prepare: {why}")
        elif not self.refused_legs:
            self.abort("a company answered the prepare without a vote on every leg")
        elif self.mode == Mode.HOLD:
            self.state = TxState.HELD
            self.hold_expires_at = self.hold_expires_at or now + hold_for
        else:
            self.abort(f"{len(self.refused_legs)} of {len(self.legs)} legs are not available")

    def abort(self, reason: str) -> bool:
        """Decide abort unless commit was decided already. True when the booking is aborted."""
        if self.decision == "commit":
            return False
        if self.decision is None:
            self.state, self.decision, self.reason = TxState.ABORTED, "abort", reason
        return True

    def preemption_refusal(self, company: str, leg_indexes: list[int]) -> str | None:
        """Why ``company`` may not ask this coordinator to give up these legs (None: it may).
        A preemption notice comes only from the company where the legs are held, for legs
        held there: any other peer could otherwise abort anyone's booking."""
        there = {leg.leg_index for leg in self.legs if leg.company == company}
        if not there:
            return f"company {company} takes no part in transaction {self.tx_id}"
        if not leg_indexes:
            return "a preemption names the legs it takes"
        elsewhere = sorted(set(leg_indexes) - there)
        if elsewhere:
            return f"legs {elsewhere} of transaction {self.tx_id} are not held at company {company}"
        return None

    def wound(self, leg_indexes: list[int], reason: str) -> bool:
        """An earlier-priority booking asks for these held legs. True if it may take them."""
        if self.decision == "commit":
            return False
        if self.decision == "abort":
            return True
        for leg in self.legs:
            if leg.leg_index in leg_indexes:
                leg.state, leg.reason = LegState.PREEMPTED, reason
        if self.mode == Mode.DEFAULT:
            self.abort(reason)
        return True

    def replace_legs(self, replacements: list[TxLeg], now: datetime) -> None:
        """Hold mode: swap refused legs for new ones and go back to preparing them."""
        if self.state != TxState.HELD:
            raise ValueError(f"the booking is {BOOKING_STATE[self.state]}, not held")
        if self.hold_expires_at is not None and now >= self.hold_expires_at:
            raise ValueError("the hold has expired")
        refused = {leg.leg_index for leg in self.refused_legs}
        for new in replacements:
            if new.leg_index not in refused:
                raise ValueError(f"leg {new.leg_index} is not a refused leg of this booking")
        by_index = {
            r.leg_index: replace(r, state=LegState.PENDING, reason=None) for r in replacements
        }
        self.legs = [by_index.get(leg.leg_index, leg) for leg in self.legs]
        self.state = TxState.PREPARING

    def expire(self, now: datetime) -> bool:
        """Abort a hold whose time is up. True when that happened."""
        if self.state == TxState.HELD and self.hold_expires_at and now >= self.hold_expires_at:
            return self.abort("the hold expired before the refused legs were replaced")
        return False

    def cancel(self) -> None:
        """The driver gives up: a confirmed booking is cancelled, anything else aborted."""
        if self.state == TxState.COMMITTED:
            self.state = TxState.CANCELLED
        elif not self.decided:
            self.abort("cancelled by the driver")

    def acknowledge(self, company: str, message: str) -> None:
        self.acks[company] = message
