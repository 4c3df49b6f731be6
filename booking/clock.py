"""The world's time: when trips leave, when windows begin, when a car may plug in.

Two clocks run in a company server. The protocol's timers — holds, leases, heartbeats, peer
timeouts, ``priority_at`` — always run on real time (``booking.model.utcnow``). The *world*
— departures, charging windows, sessions, no-shows, the console's "now" — runs on a ``Clock``.
A production server's world clock is real time. The demo (and tests) may run the world
faster: ``ScaledClock`` starts the world some hours in the past and runs it ``speed`` times
faster until it catches up with real time; every process of the demo — the three servers and
the simulated cars — reads the same one (``RECARGA_DEMO_CLOCK=<since>@<speed>-<behind>``), so a
car plugs in when the servers agree its window has begun.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class RealClock:
    """The world is the real world."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __str__(self) -> str:
        return "real time"


@dataclass(frozen=True)
class ScaledClock:
    """The demo's world: at the real moment ``since`` it is ``behind`` in the past, and it runs
    ``speed`` times faster than real time until it has caught up with it; from then on it is
    real time. A demo's trips happen in the accelerated stretch; once they are over the world
    is the real one again, so what a person books afterwards (tomorrow, by the wall clock) is
    in the future for the servers too."""

    since: datetime
    speed: float
    behind: timedelta = timedelta(0)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        return min(real, self.since - self.behind + (real - self.since) * self.speed)

    @property
    def caught_up_at(self) -> datetime:
        """The real moment the world is real time again."""
        return self.since + self.behind / (self.speed - 1) if self.speed > 1 else self.since

    def real_seconds(self, world: timedelta) -> float:
        """How long ``world`` lasts in real seconds, while the world runs fast."""
        return world.total_seconds() / self.speed

    def __str__(self) -> str:
        return f"{self.since.timestamp():.3f}@{self.speed:g}-{self.behind.total_seconds():g}"


def clock_from(spec: str | None) -> RealClock | ScaledClock:
    """``None`` or "" → real time; ``"<since>@<speed>-<behind>"`` (POSIX seconds, a factor,
    seconds) → the demo's clock (``ScaledClock``)."""
    if not spec:
        return RealClock()
    try:
        since_text, rest = spec.split("@")
        speed_text, behind_text = rest.split("-")
        since, speed, behind = float(since_text), float(speed_text), float(behind_text)
    except ValueError:
        raise ValueError(
            f"a demo clock is '<since, POSIX seconds>@<speed>-<seconds behind>', not {spec!r}"
        ) from None
    if not 1.0 < speed <= 100_000.0 or not 0.0 <= behind <= 7 * 86_400.0:
        raise ValueError(
            f"a demo clock runs 1 to 100000 times faster, at most 7 days behind: {spec!r}"
        )
    return ScaledClock(datetime.fromtimestamp(since, UTC), speed, timedelta(seconds=behind))
