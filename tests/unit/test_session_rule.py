"""The charging lifecycle's rule (booking/session.py) and the demo clock (booking/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.clock import RealClock, ScaledClock, clock_from
from booking.model import Window
from booking.session import EARLY, NO_SHOW_AFTER, no_show_before, start_refused

T = datetime(2030, 6, 1, 10, tzinfo=UTC)
W = Window(T, T + timedelta(minutes=40))


@pytest.mark.parametrize(
    "offset,refused",
    [
        (-EARLY - timedelta(seconds=1), "too early"),
        (-EARLY, None),
        (timedelta(0), None),
        (NO_SHOW_AFTER, None),
        (NO_SHOW_AFTER + timedelta(seconds=1), "too late"),
        (timedelta(minutes=40), "ended"),
    ],
)
def test_a_session_starts_only_within_its_window_and_grace(offset, refused):
    why = start_refused(W, T + offset)
    assert (why is None) if refused is None else (refused in why)


def test_a_window_not_started_past_its_grace_is_a_no_show():
    now = T + NO_SHOW_AFTER + timedelta(seconds=1)
    assert W.start < no_show_before(now)
    assert not W.start < no_show_before(T + NO_SHOW_AFTER)


def test_the_demo_clock_runs_the_world_faster_until_it_catches_up_with_real_time():
    since = datetime.now(UTC) - timedelta(seconds=10)
    clock = clock_from(f"{since.timestamp()}@60-3600")  # an hour behind, 60 times faster
    assert isinstance(clock, ScaledClock)
    behind = datetime.now(UTC) - clock.now()
    assert timedelta(minutes=49) < behind < timedelta(minutes=51)  # 10 s at 60× = 10 min
    assert clock.real_seconds(timedelta(minutes=1)) == 1.0
    assert clock.caught_up_at == since + timedelta(seconds=3600 / 59)
    past = clock_from(f"{(since - timedelta(hours=1)).timestamp()}@60-60")  # caught up long ago
    assert abs(past.now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert isinstance(clock_from(""), RealClock) and isinstance(clock_from(None), RealClock)
    for bad in ("60", "x@60-0", "1@1-0", "1@1e9-0", "1@60", "1@60-x", "1@60-1e9"):
        with pytest.raises(ValueError):
            clock_from(bad)
