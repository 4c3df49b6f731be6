"""Domain objects shared by the service layer, storage and the planner."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


#: The longest charging window a leg may ask for.
MAX_WINDOW = timedelta(hours=24)
#: A client's clock a little behind is not "the past": a leg (or a trip's departure) may start
#: this long before the server's now.
CLIENT_SLACK = timedelta(minutes=1)
#: A participant allows more: the prepare left the coordinator (which checked the window with
#: ``CLIENT_SLACK``) some seconds ago, and two companies' clocks may differ by this much.
SERVER_SKEW = timedelta(minutes=4)
PARTICIPANT_SLACK = CLIENT_SLACK + SERVER_SKEW


def window_refusal(window: Window, now: datetime, slack: timedelta) -> str | None:
    """Why a leg's window cannot be booked (too long, or begun more than ``slack`` before
    ``now``), or None. One rule for the coordinator (``CLIENT_SLACK``) and the participant
    (``PARTICIPANT_SLACK``)."""
    if window.end - window.start > MAX_WINDOW:
        return "a charging window may last at most 24 hours"
    if window.start < now - slack:
        return "the window starts in the past"
    return None


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window times must carry a time zone")
        if not self.start < self.end:
            raise ValueError("a window must end after it starts")

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Connector:
    id: str
    station_id: str
    power_kw: float
    price_per_kwh: float
    standard: str = "CCS2"


def make_station_id(company: str, place_id: str, n: int) -> str:
    """Station ids name their company and place: ``<company>-<place>-<n>``."""
    return f"{company}-{place_id}-{n}"


def place_of_station(company: str, station: str) -> str:
    """The place in a station id made by ``make_station_id``."""
    return station[len(company) + 1 :].rsplit("-", 1)[0]


@dataclass(frozen=True)
class Station:
    id: str
    company: str
    place_id: str
    name: str
    lat: float
    lon: float
    connectors: tuple[Connector, ...] = ()
    status: str = "available"


class ReservationState(enum.StrEnum):
    HELD = "held"  # prepared by a two-phase commit, outcome not known yet
    CONFIRMED = "confirmed"
    CHARGING = "charging"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ABORTED = "aborted"
    PREEMPTED = "preempted"  # a hold taken by an earlier-priority booking
    NO_SHOW = "no_show"


#: States that occupy the connector: the no-overlap rule covers exactly these.
ACTIVE_STATES = frozenset(
    {ReservationState.HELD, ReservationState.CONFIRMED, ReservationState.CHARGING}
)


@dataclass
class Reservation:
    id: str
    connector_id: str
    station_id: str
    window: Window
    state: ReservationState
    booking_id: str
    tx_id: str | None = None
    leg_index: int = 0
    car_id: str | None = None
    priority_at: datetime | None = None
    hold_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class ParticipantState(enum.StrEnum):
    PREPARED = "prepared"  # voted yes; holds kept until the coordinator's decision
    COMMITTED = "committed"
    ABORTED = "aborted"
    CANCELLED = "cancelled"


@dataclass
class ParticipantRecord:
    """A participant's durable record of a transaction it was asked to prepare."""

    tx_id: str
    coordinator: str
    booking_id: str
    priority_at: datetime
    state: ParticipantState = ParticipantState.PREPARED
    car_id: str | None = None
    hold_expires_at: datetime | None = None
    heuristic: str | None = None  # "abort" when released alone after a long doubt
    heuristic_note: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
