"""POST /plans: thin over service.planning."""

from __future__ import annotations

from handlers import serialize
from handlers.context import current
from service import planning


def create_plan(body):
    return serialize.ok(planning.plan_answer(current(), body))
