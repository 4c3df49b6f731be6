"""GET and POST /drivers, DELETE /drivers/{driver_id}: thin over service.drivers."""

from __future__ import annotations

from handlers import serialize
from handlers.current import current
from service import drivers


def create_driver(body):
    return serialize.ok(drivers.issue(current(), body["name"]), 201)


def list_drivers():
    return serialize.ok({"items": drivers.listing(current())})


def revoke_driver(driver_id):
    drivers.revoke(current(), driver_id)
    return None, 204
