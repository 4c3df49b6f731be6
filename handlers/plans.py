"""POST /plans: thin over service.catalogs.trips."""

from __future__ import annotations

from handlers import serialize
from handlers.current import current
from service.catalogs import trips


def create_plan(body):
    return serialize.ok(trips.plan_answer(current(), body))
