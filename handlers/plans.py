"""POST /plans."""

from __future__ import annotations

from booking.errors import NotImplementedYet


def create_plan(body):
    raise NotImplementedYet("trip planning is not served by this version yet")
