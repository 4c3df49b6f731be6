from datetime import UTC, datetime, timedelta

from booking.availability import free_windows
from booking.model import Window

T0 = datetime(2030, 1, 1, 8, tzinfo=UTC)


def w(a, b):
    return Window(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b))


def test_free_windows_are_the_gaps_between_busy_windows():
    assert free_windows([], w(0, 60)) == [w(0, 60)]
    assert free_windows([w(10, 20), w(30, 40)], w(0, 60)) == [w(0, 10), w(20, 30), w(40, 60)]
    assert free_windows([w(-10, 5), w(50, 90)], w(0, 60)) == [w(5, 50)]
    assert free_windows([w(0, 60)], w(0, 60)) == []
    assert free_windows([w(10, 30), w(20, 40)], w(0, 60)) == [w(0, 10), w(40, 60)]


def test_window_rules():
    import pytest

    with pytest.raises(ValueError):
        Window(T0, T0)
    with pytest.raises(ValueError):
        Window(datetime(2030, 1, 1), datetime(2030, 1, 2))
    assert w(0, 10).overlaps(w(9, 20)) and not w(0, 10).overlaps(w(10, 20))
