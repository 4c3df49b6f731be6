"""Free windows of a connector: the complement of its active reservations."""

from __future__ import annotations

from collections.abc import Iterable

from booking.model import Window


def free_windows(busy: Iterable[Window], span: Window) -> list[Window]:
    """Gaps of ``span`` not covered by any ``busy`` window, in order."""
    gaps: list[Window] = []
    cursor = span.start
    for w in sorted(busy, key=lambda w: w.start):
        if w.end <= cursor or w.start >= span.end:
            continue
        if w.start > cursor:
            gaps.append(Window(cursor, w.start))
        cursor = max(cursor, w.end)
        if cursor >= span.end:
            break
    if cursor < span.end:
        gaps.append(Window(cursor, span.end))
    return gaps
