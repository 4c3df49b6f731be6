"""POST and GET /bookings, GET, PATCH and DELETE /bookings/{booking_id}: thin over
service.protocol.coordinator."""

from __future__ import annotations

from connexion import request

from booking.errors import PeerUnavailable, Unauthorized
from handlers import serialize
from handlers.current import current
from service.company import inputs
from service.protocol import answers, coordinator


def _answer(outcome: answers.Outcome):
    if outcome.status >= 400:
        headers = {"Content-Type": "application/problem+json"}
        if outcome.status == 503:  # a company was silent or unreachable: try again later
            headers["Retry-After"] = str(PeerUnavailable.retry_after)
        return outcome.body, outcome.status, headers
    headers = {"Location": f"/api/v1/bookings/{outcome.body['booking_id']}"}
    return serialize.ok(outcome.body, outcome.status, headers)


def _caller(token_info) -> str:
    """ "admin" or "driver:<id>" (connexion checked the token against the contract)."""
    caller = (token_info or {}).get("sub")
    if not caller:
        raise Unauthorized("a driver credential or the admin token is required")
    return caller


def create_booking(body, token_info=None):
    outcome = coordinator.book(
        current(),
        body["car_id"],
        inputs.legs(body["legs"]),
        mode=body.get("mode", "default"),
        idempotency_key=request.headers.get("Idempotency-Key"),
        owner=_caller(token_info),
        trip=body.get("trip"),
    )
    return _answer(outcome)


def list_bookings(limit=20, offset=0, token_info=None):
    return serialize.ok(coordinator.listing(current(), _caller(token_info), limit, offset))


def get_booking(booking_id, token_info=None):
    return serialize.ok(coordinator.get(current(), booking_id, caller=_caller(token_info)))


def replace_legs(booking_id, body, token_info=None):
    legs = inputs.legs(body["legs"])
    return _answer(
        coordinator.replace_legs(current(), booking_id, legs, caller=_caller(token_info))
    )


def cancel_booking(booking_id, token_info=None):
    return _answer(coordinator.cancel(current(), booking_id, caller=_caller(token_info)))
