"""A participant's side of one transaction, as a pure state machine over its record:

    (none) --prepare--> PREPARED --commit--> COMMITTED --cancel--> CANCELLED
      |                    \\--abort / heuristic abort--> ABORTED
      \\--abort (before its prepare: presumed abort)--> ABORTED

Every decision here is taken on the record as read *under its row lock*; the service applies
what it returns to the reservation rows in the same database transaction (``storage``), so the
record and its holds always change together. Only the transaction's coordinator may move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from booking.errors import Conflict, NotFound
from booking.model import ParticipantRecord, ParticipantState

LegKey = tuple[int, str]  # (leg index, connector id)


@dataclass(frozen=True)
class CommitPlan:
    """What a commit does to the holds: confirm these, release those."""

    confirm: frozenset[LegKey]
    release: frozenset[LegKey]


class Participation:
    def __init__(self, rec: ParticipantRecord, company: str):
        self.rec = rec
        self.company = company

    @staticmethod
    def presumed_abort(tx_id: str, coordinator: str, now: datetime) -> ParticipantRecord:
        """The record an abort leaves for a transaction never prepared here, so that its
        prepare, arriving late, is refused."""
        return ParticipantRecord(
            tx_id=tx_id,
            coordinator=coordinator,
            booking_id="",
            priority_at=now,
            state=ParticipantState.ABORTED,
        )

    def _unknown(self) -> NotFound:
        return NotFound(f"transaction {self.rec.tx_id} is unknown at company {self.company}")

    def _check_coordinator(self, coordinator: str | None) -> None:
        if coordinator is not None and coordinator != self.rec.coordinator:
            raise self._unknown()  # to another peer, someone else's transaction does not exist

    def refusal_to_hold(self, coordinator: str) -> str | None:
        """Why a prepare may not hold anything more for this transaction (None: it may)."""
        if coordinator != self.rec.coordinator:
            return f"transaction {self.rec.tx_id} belongs to another coordinator here"
        if self.rec.state != ParticipantState.PREPARED:
            return f"transaction {self.rec.tx_id} is {self.rec.state.value} here"
        return None

    def commit(
        self, coordinator: str | None, held: set[LegKey], named: set[LegKey] | None
    ) -> CommitPlan | None:
        """Commit what was prepared: every hold, or, when the coordinator names legs, those
        (each must be held) — a hold it no longer names is released. None: nothing changes
        (committed or cancelled already). ``Conflict`` after an abort, except a heuristic one,
        which the caller repairs (``needs_repair``)."""
        self._check_coordinator(coordinator)
        state = self.rec.state
        if state in (ParticipantState.COMMITTED, ParticipantState.CANCELLED):
            return None
        if state == ParticipantState.ABORTED:
            raise Conflict(f"transaction {self.rec.tx_id} was aborted at company {self.company}")
        wanted = held if named is None else named
        missing = wanted - held
        if missing:
            raise Conflict(
                f"company {self.company} does not hold legs "
                f"{sorted(i for i, _ in missing)} of {self.rec.tx_id}"
            )
        self.rec.state = ParticipantState.COMMITTED
        self.rec.hold_expires_at = None
        return CommitPlan(frozenset(wanted), frozenset(held - wanted))

    @property
    def needs_repair(self) -> bool:
        """Released alone after a long doubt, and the coordinator now says commit."""
        return self.rec.state == ParticipantState.ABORTED and self.rec.heuristic is not None

    def repaired(self) -> None:
        """The windows released alone were free and are held again: committed after all."""
        self.rec.state = ParticipantState.COMMITTED
        self.rec.heuristic_note = "heuristic abort contradicted by commit; windows held again"

    def repair_failed(self, why: str) -> None:
        """The windows went to someone else meanwhile: the damage is recorded, to report."""
        self.rec.heuristic_note = f"heuristic abort contradicted by commit; windows lost: {why}"

    def abort(self, coordinator: str) -> bool:
        """Abort; True when the holds must be released now. ``Conflict`` after a commit."""
        self._check_coordinator(coordinator)
        if self.rec.state == ParticipantState.COMMITTED:
            raise Conflict(
                f"transaction {self.rec.tx_id} is committed at company "
                f"{self.company}; cancel the booking instead"
            )
        if self.rec.state != ParticipantState.PREPARED:
            return False  # aborted or cancelled already: a repeated message
        self.rec.state = ParticipantState.ABORTED
        return True

    def cancel(self, coordinator: str | None) -> bool:
        """The driver cancelled the booking; True when its windows must be released."""
        self._check_coordinator(coordinator)
        if self.rec.state in (ParticipantState.ABORTED, ParticipantState.CANCELLED):
            return False
        self.rec.state = ParticipantState.CANCELLED
        return True

    def give_up(self) -> bool:
        """Past the in-doubt limit with the coordinator silent: release alone and record it.
        False when the outcome arrived meanwhile."""
        if self.rec.state != ParticipantState.PREPARED:
            return False
        self.rec.state = ParticipantState.ABORTED
        self.rec.heuristic = "abort"
        return True
