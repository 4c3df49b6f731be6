"""Turning JSON-shaped input (REST bodies, MQTT payloads) into domain values, one way for both."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import overload

from booking.errors import BadInput, InvalidRequest
from service import validation

#: Times a request may name: anything outside is refused before any arithmetic can overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: JSON documents nest at most this deep (REST bodies and MQTT payloads alike).
MAX_DEPTH = 32
#: A car id: the contract's ``CarId`` pattern (ECMA-262: ``$`` is the very end; the copy is
#: checked against the contract by tests/unit/test_spec.py), for MQTT topics and payloads; REST
#: bodies are checked by the contract itself.
CAR_ID = "^[A-Za-z0-9_.-]{1,64}$"
#: A JSON number's text may have at most this many characters. Every number the contract takes
#: is bounded far below (the largest, a limit or a version, fits in 19 digits); Python's own
#: reader would otherwise fail past 4,300 digits with an error no handler expects, and spend
#: time quadratic in the length before that.
MAX_NUMBER_CHARS = 100


def is_car_id(text: str) -> bool:
    return validation.matches(CAR_ID, text)


def parse_time(text: str, name: str) -> datetime:
    """RFC 3339 with an offset; anything else is the client's error (400); a time outside
    [2000, 2200) is well-formed but refused (422)."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        if value.tzinfo is None:
            raise BadInput(f"{name!r} needs a time zone offset (e.g. 'Z'): {text!r}")
        value = value.astimezone(UTC)
    except (ValueError, AttributeError) as exc:
        raise BadInput(f"{name!r} is not an RFC 3339 date-time: {text!r}") from exc
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+10:00 has no UTC
        raise InvalidRequest(f"{name!r} lies outside the times this service handles "
                             f"({EARLIEST.year}–{LATEST.year - 1}): {text!r}") from exc
    if not EARLIEST <= value < LATEST:
        raise InvalidRequest(f"{name!r} lies outside the times this service handles "
                             f"({EARLIEST.year}–{LATEST.year - 1}): {text!r}")
    return value


def display_name(text: str, name: str = "name") -> str:
    """A name shown to people: no control characters (a JSON Schema ``pattern`` cannot say it
    portably: Python's ``$`` also matches before a final newline)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise BadInput(f"{name!r} must not hold control characters")
    return text


def a_year_after(value: datetime) -> datetime:
    """``value`` plus a year of 365 days (never fails, 29 February included)."""
    return value + timedelta(days=365)


def loads(raw: bytes | str) -> object:
    """Strict JSON: no NaN or Infinity, numbers of at most ``MAX_NUMBER_CHARS`` characters
    that a float can hold, at most ``MAX_DEPTH`` levels; ``BadInput`` otherwise."""
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_int=_integer,
                          parse_float=_real)
    except RecursionError as exc:
        raise BadInput(f"the JSON document nests deeper than {MAX_DEPTH} levels") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"not UTF-8 JSON: {exc}") from exc
    if _depth(data) > MAX_DEPTH:
        raise BadInput(f"the JSON document nests deeper than {MAX_DEPTH} levels")
    return data


def _no_constant(name: str):
    raise BadInput(f"{name} is not a JSON number (RFC 8259)")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadInput(f"a number of {len(text)} digits is beyond any value this API takes "
                       f"(at most {MAX_NUMBER_CHARS} characters)")
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadInput(f"a number of {len(text)} characters is beyond any value this API takes "
                       f"(at most {MAX_NUMBER_CHARS} characters)")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadInput(f"{text} is beyond the range of a JSON number this API takes")
    return value


def _depth(data: object) -> int:
    """Nesting depth without recursion (a hostile document must not exhaust the stack)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        items: Iterable[object]
        if isinstance(value, dict):
            items = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((v, level + 1) for v in items)
    return deepest


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    """The one way times leave this service: UTC, RFC 3339, with ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def legs(raw: list[dict]) -> list[dict]:
    """Booking legs with their times parsed."""
    return [{**leg, "start": parse_time(leg["start"], f"legs[{i}].start"),
             "end": parse_time(leg["end"], f"legs[{i}].end")} for i, leg in enumerate(raw)]
