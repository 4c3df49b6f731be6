"""POST /drivers: thin over service.drivers."""

from __future__ import annotations

from handlers import serialize
from handlers.current import current
from service import drivers


def create_driver(body):
    return serialize.ok(drivers.issue(current(), body["name"]), 201)
