"""The priority rule of the first point (SPEC §4), as a pure function.

A booking's priority is the moment its first leg was held; ties are broken by booking id so
every server orders any two bookings the same way. When a prepare meets active reservations of
the same connector window:

- a confirmed (or charging) reservation is never taken: the prepare is refused;
- a hold of an earlier (or equal) priority wins: the prepare is refused at once, nobody waits;
- holds of a later priority only are *victims*: the earlier booking may take the window once
  each victim's coordinator agrees it has not committed (see ``service.protocol.participant``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from booking.model import Reservation, ReservationState


@dataclass(frozen=True, order=True)
class Priority:
    at: datetime
    booking_id: str

    def beats(self, other: Priority) -> bool:
        return self < other


@dataclass
class Contention:
    """What to do about the reservations standing in a prepared leg's way."""

    refused: str | None = None  # why the leg cannot be had (None: it can)
    victims: list[Reservation] = field(default_factory=list)  # later holds to take

    @property
    def free(self) -> bool:
        return self.refused is None and not self.victims


def contend(mine: Priority, in_the_way: Iterable[Reservation]) -> Contention:
    """Decide a leg against the active reservations overlapping its window."""
    victims = []
    for r in in_the_way:
        if r.state != ReservationState.HELD:
            return Contention(
                refused=f"connector {r.connector_id} is already booked "
                f"({r.state.value}) in that window"
            )
        theirs = Priority(r.priority_at, r.booking_id) if r.priority_at else None
        if theirs is None or not mine.beats(theirs):
            return Contention(
                refused=f"connector {r.connector_id} is held in that window by a "
                f"booking of earlier priority"
            )
        victims.append(r)
    return Contention(victims=victims)
