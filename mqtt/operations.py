"""The car operations over MQTT, in one table built once: for each, the payload's schema, the
service function that does it, and whether the car must own the booking it names. The
schemas reuse the REST contract's (openapi/openapi.yaml), so both adapters accept exactly the
same things (docs/mqtt.md lists the same operations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from mqtt.payloads import ref
from service import charging
from service.catalogs import trips
from service.company import inputs
from service.company.context import Context
from service.protocol import coordinator

#: a booking id: the contract's (the path parameter of /bookings/{booking_id})
_ID = {"$ref": "#/components/parameters/BookingId/schema"}
_BOOKING = {
    "type": "object",
    "required": ["booking_id"],
    "additionalProperties": False,
    "properties": {"booking_id": _ID},
}


@dataclass(frozen=True)
class Operation:
    schema: dict
    # (ctx, car id, fields, request id) -> answer
    run: Callable[[Context, str, dict, str], tuple[int, dict]]
    car_owns_booking: bool = False  # the topic's car must be the named booking's car


def _book(ctx: Context, car: str, f: dict, request_id: str) -> tuple[int, dict]:
    # the request id is the booking's idempotency key, kept in the database: a retry that the
    # broker hands to another process of the company replays the first answer, not a second
    # booking (each process's replay cache knows only its own answers)
    key = "mqtt-" + hashlib.sha256(f"{car}\n{request_id}".encode()).hexdigest()
    out = coordinator.book(
        ctx,
        car,
        inputs.legs(f["legs"]),
        mode=f.get("mode", "default"),
        owner=f"car:{car}",
        idempotency_key=key,
        trip=f.get("trip"),
    )
    return out.status, out.body


def _choose(ctx: Context, car: str, f: dict, request_id: str) -> tuple[int, dict]:
    out = coordinator.replace_legs(ctx, f["booking_id"], inputs.legs(f["legs"]))
    return out.status, out.body


OPERATIONS: dict[str, Operation] = {
    "plan": Operation(
        ref("PlanRequest"), lambda ctx, car, f, rid: (200, trips.plan_answer(ctx, f))
    ),
    "book": Operation(
        {
            "type": "object",
            "required": ["legs"],
            "additionalProperties": False,
            "properties": {
                "legs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 12,
                    "items": ref("LegRequest"),
                },
                "mode": {"type": "string", "enum": ["default", "hold"]},
                "trip": ref("BookingTrip"),
            },
        },
        _book,
    ),
    "choose": Operation(
        {
            "type": "object",
            "required": ["booking_id", "legs"],
            "additionalProperties": False,
            "properties": {
                "booking_id": _ID,
                "legs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 12,
                    "items": ref("ReplacementLeg"),
                },
            },
        },
        _choose,
        car_owns_booking=True,
    ),
    "cancel": Operation(
        _BOOKING,
        lambda ctx, car, f, rid: (200, coordinator.cancel(ctx, f["booking_id"]).body),
        car_owns_booking=True,
    ),
    "get": Operation(
        _BOOKING,
        lambda ctx, car, f, rid: (200, coordinator.get(ctx, f["booking_id"])),
        car_owns_booking=True,
    ),
    "charge_start": Operation(
        {
            "type": "object",
            "required": ["booking_id", "connector_id"],
            "additionalProperties": False,
            "properties": {"booking_id": _ID, "connector_id": ref("ConnectorId")},
        },
        lambda ctx, car, f, rid: (
            200,
            charging.start_charging(ctx, f["booking_id"], f["connector_id"], car),
        ),
    ),
    "charge_finish": Operation(
        {
            "type": "object",
            "required": ["booking_id", "connector_id"],
            "additionalProperties": False,
            "properties": {
                "booking_id": _ID,
                "connector_id": ref("ConnectorId"),
                "energy_kwh": {"type": "number", "minimum": 0, "maximum": 500},
            },
        },
        lambda ctx, car, f, rid: (
            200,
            charging.finish_charging(ctx, f["booking_id"], f["connector_id"], car),
        ),
    ),
    "trip_finish": Operation(
        _BOOKING,
        lambda ctx, car, f, rid: (200, coordinator.finish_trip(ctx, f["booking_id"], car).body),
        car_owns_booking=True,
    ),
}

SCHEMAS = {name: op.schema for name, op in OPERATIONS.items()}
