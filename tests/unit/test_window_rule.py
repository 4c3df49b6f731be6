"""One rule for a leg's window, at the coordinator and at a participant (booking.model)."""

from datetime import UTC, datetime, timedelta

from booking.model import CLIENT_SLACK, PARTICIPANT_SLACK, Window, window_refusal

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _starting(ago: timedelta, length: timedelta = timedelta(minutes=30)) -> Window:
    return Window(NOW - ago, NOW - ago + length)


def test_a_window_begun_a_little_ago_passes_a_participant_but_not_a_coordinator():
    # the prepare left the coordinator some seconds ago and clocks differ between companies
    three_minutes = _starting(timedelta(minutes=3))
    assert window_refusal(three_minutes, NOW, CLIENT_SLACK) == "the window starts in the past"
    assert window_refusal(three_minutes, NOW, PARTICIPANT_SLACK) is None
    assert PARTICIPANT_SLACK > CLIENT_SLACK


def test_the_slack_is_the_boundary():
    assert window_refusal(_starting(CLIENT_SLACK), NOW, CLIENT_SLACK) is None
    assert (
        window_refusal(_starting(CLIENT_SLACK + timedelta(seconds=1)), NOW, CLIENT_SLACK)
        is not None
    )
    assert (
        window_refusal(_starting(PARTICIPANT_SLACK + timedelta(seconds=1)), NOW, PARTICIPANT_SLACK)
        is not None
    )


def test_a_window_may_last_a_day_at_most():
    ahead = -timedelta(hours=1)
    assert window_refusal(_starting(ahead, timedelta(hours=24)), NOW, CLIENT_SLACK) is None
    assert (
        window_refusal(_starting(ahead, timedelta(hours=24, seconds=1)), NOW, PARTICIPANT_SLACK)
        == "a charging window may last at most 24 hours"
    )
