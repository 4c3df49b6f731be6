"""When a car may charge in its window: the lifecycle of a reserved window at a station.

A confirmed window becomes *charging* when the car starts a session in it, and *completed* when
it finishes; one never started becomes a *no-show*. The rule, the same whatever the request
came by (docs/mqtt.md, "Charging"):

* a session starts from ``EARLY`` before its window begins (the car is there a little early)
  until ``NO_SHOW_AFTER`` after it begins, and never once the window has ended;
* a session finishes only after it started;
* a window not started ``NO_SHOW_AFTER`` after its start is a no-show (the recovery worker
  marks it): its connector is free for others, and the car can no longer start there.

Times are the world's (``booking.clock``): real time in production, the demo's clock in the
demo.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.model import Window

EARLY = timedelta(minutes=15)
NO_SHOW_AFTER = timedelta(minutes=15)


def _hhmm(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def start_refused(window: Window, now: datetime) -> str | None:
    """Why a session may not start in ``window`` at ``now`` (None: it may)."""
    if now < window.start - EARLY:
        return (
            f"too early: the window starts at {_hhmm(window.start)}; charging may start "
            f"from {_hhmm(window.start - EARLY)}"
        )
    if now >= window.end:
        return f"the window ended at {_hhmm(window.end)}"
    if now > window.start + NO_SHOW_AFTER:
        return (
            f"too late: a session starts at most {NO_SHOW_AFTER.seconds // 60} minutes "
            f"after its window begins ({_hhmm(window.start)}); the window is a no-show"
        )
    return None


def no_show_before(now: datetime) -> datetime:
    """Confirmed windows that began before this, never started, are no-shows."""
    return now - NO_SHOW_AFTER
