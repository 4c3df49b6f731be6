"""Decoding and validating MQTT payloads: car requests (their schemas are in
``mqtt.operations``, the one table of car operations), telemetry and station messages.

Bodies of plan, book and choose reuse the REST contract's schemas (openapi/openapi.yaml), so
the two adapters accept exactly the same things. Every request carries a ``request_id``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from booking.errors import BadInput
from service.company import inputs, validation

MAX_PAYLOAD = 64 * 1024
SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.yaml"


def ref(name: str) -> dict:
    """A schema of the REST contract, by name."""
    return {"$ref": f"#/components/schemas/{name}"}


TELEMETRY = {
    "type": "object",
    "required": ["soc", "lat", "lon", "speed_kmh"],
    "properties": {
        "soc": {"type": "number", "minimum": 0, "maximum": 1},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "speed_kmh": {"type": "number", "minimum": 0, "maximum": 300},
        "ts": {"type": "string"},
        "trip": {"type": "string"},
    },
    "additionalProperties": False,
}

STATION_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["available", "charging", "reserved", "offline"]},
        "ts": {"type": "string"},
    },
    "additionalProperties": False,
}


#: Every response the server publishes on a car's response topic (docs/mqtt.md): a body when
#: ``ok``, else a problem-details ``error`` (with ``conflicts`` and alternatives on a 409).
RESPONSE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["request_id", "op", "status", "ok", "server"],
    "properties": {
        "request_id": {"type": ["string", "null"]},
        "op": {"type": "string"},
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "ok": {"type": "boolean"},
        "server": {"type": "string"},
        "body": {"type": "object"},
        "error": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "booking_id": {"type": "string"},
                "state": {"type": "string"},
                "hold_expires_at": {"type": ["string", "null"]},
                "conflicts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "leg_index",
                            "company",
                            "station_id",
                            "connector_id",
                            "reason",
                            "alternatives",
                        ],
                        "properties": {
                            "leg_index": {"type": "integer"},
                            "alternatives": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
    "oneOf": [
        {
            "properties": {"ok": {"const": True}, "status": {"maximum": 299}},
            "required": ["body"],
            "not": {"required": ["error"]},
        },
        {
            "properties": {"ok": {"const": False}, "status": {"minimum": 400}},
            "required": ["error"],
            "not": {"required": ["body"]},
        },
    ],
}


@cache
def _components() -> dict:
    return yaml.safe_load(SPEC.read_text())["components"]


@cache
def _validator(name: str, schema_json: str) -> jsonschema.Validator:
    schema = {**json.loads(schema_json), "components": _components()}
    return validation.Draft7(schema, format_checker=jsonschema.FormatChecker())


def decode(raw: bytes) -> dict:
    """Bytes to a JSON object, or ``BadInput`` saying what is wrong."""
    if len(raw) > MAX_PAYLOAD:
        raise BadInput(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD}")
    try:
        data = inputs.loads(raw)
    except BadInput as exc:
        raise BadInput(f"payload: {exc.detail}") from exc
    if not isinstance(data, dict):
        raise BadInput("payload must be a JSON object")
    return data


#: JSON's tokens, enough to walk a document's top level without parsing what lies below it
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def readable_request_id(raw: bytes) -> str | None:
    """The top-level ``request_id`` of a payload, even one that is refused as a whole (nested
    too deep, a number too long, NaN…), so that its error response still names the request.
    Scans tokens at the top level only: no recursion, linear in the payload."""
    if len(raw) > MAX_PAYLOAD:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    depth, key, colon = 0, None, False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if depth == 0 and token != "{":
            return None
        if token in ("{", "["):
            depth, colon = depth + 1, False
        elif token in ("}", "]"):
            depth -= 1
            if depth == 0:
                return None
        elif depth != 1:
            continue
        elif token == ":":
            colon = True
        elif token == ",":
            key, colon = None, False
        elif colon:
            if key == "request_id" and token.startswith('"'):
                return _request_id(_string(token))
            key, colon = None, False
        else:
            key = _string(token)
    return None


def _request_id(value: object) -> str | None:
    """``value`` if it is a request id (a string of 1–128 characters)."""
    return value if isinstance(value, str) and 1 <= len(value) <= 128 else None


def _string(token: str) -> str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def validate(name: str, schema: dict, data: dict) -> None:
    errors = sorted(
        _validator(name, json.dumps(schema, sort_keys=True)).iter_errors(data),
        key=lambda e: list(e.path),
    )
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(payload)"
        raise BadInput(f"{name}: {where}: {first.message}")


def request(op: str, raw: bytes, schemas: dict[str, dict]) -> tuple[str, dict]:
    """A car request: (request_id, fields), checked against ``schemas[op]``. ``BadInput`` for
    anything malformed; the request id is returned when it could be read, so the error
    response can carry it."""
    data = decode(raw)
    request_id = _request_id(data.pop("request_id", None))
    if request_id is None:
        raise BadInput("request_id (a string of 1–128 characters) is required")
    if op not in schemas:
        raise UnknownOperation(request_id, op, list(schemas))
    try:
        validate(op, schemas[op], data)
    except BadInput as exc:
        exc.extra["request_id"] = request_id
        raise
    return request_id, data


class UnknownOperation(BadInput):
    def __init__(self, request_id: str | None, op: str, known: list[str]):
        super().__init__(
            f"unknown operation {op!r}; known: {', '.join(known)}", request_id=request_id
        )
