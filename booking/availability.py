"""Free windows of a connector: the complement of its active reservations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from booking.model import Window

P = TypeVar("P", datetime, float)  # a point in time: a datetime, or minutes as a float


def free_windows(busy: Iterable[Window], span: Window) -> list[Window]:
    """Gaps of ``span`` not covered by any ``busy`` window, in order."""
    return [Window(a, b) for a, b in gaps([(w.start, w.end) for w in busy], span.start, span.end)]


def gaps(busy: Iterable[tuple[P, P]], start: P, end: P) -> list[tuple[P, P]]:
    """Gaps of [``start``, ``end``) not covered by any ``busy`` (start, end) pair, in order;
    for any ordered values (datetimes, or the minutes a planner counts in thousands)."""
    out: list[tuple[P, P]] = []
    cursor = start
    for b_start, b_end in sorted(busy, key=lambda pair: pair[0]):
        if b_end <= cursor or b_start >= end:
            continue
        if b_start > cursor:
            out.append((cursor, b_start))
        cursor = max(cursor, b_end)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return out
