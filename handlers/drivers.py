"""GET and POST /drivers, DELETE /drivers/{driver_id}, POST /drivers/{driver_id}/token: thin
over service.company.drivers."""

from __future__ import annotations

from handlers import serialize
from handlers.current import current
from service.company import drivers


def create_driver(body):
    return serialize.ok(drivers.issue(current(), body["name"], body.get("expires_at")), 201)


def list_drivers():
    return serialize.ok({"items": drivers.listing(current())})


def revoke_driver(driver_id):
    drivers.revoke(current(), driver_id)
    return None, 204


def rotate_driver_token(driver_id, body=None):
    # the body is optional: without one (no content type) connexion hands over its raw bytes
    fields = body if isinstance(body, dict) else {}
    return serialize.ok(drivers.rotate(current(), driver_id, fields.get("expires_at")), 201)
