"""Turning JSON-shaped input (REST bodies, MQTT payloads) into domain values, one way for both."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from booking.errors import BadInput
from booking.times import iso, parse_time  # noqa: F401 (the service's names for them)
from service.company import validation

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
        data = json.loads(raw, parse_constant=_no_constant, parse_int=_integer, parse_float=_real)
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
        raise BadInput(
            f"a number of {len(text)} digits is beyond any value this API takes "
            f"(at most {MAX_NUMBER_CHARS} characters)"
        )
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadInput(
            f"a number of {len(text)} characters is beyond any value this API takes "
            f"(at most {MAX_NUMBER_CHARS} characters)"
        )
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


def legs(raw: list[dict]) -> list[dict]:
    """Booking legs with their times parsed."""
    return [
        {
            **leg,
            "start": parse_time(leg["start"], f"legs[{i}].start"),
            "end": parse_time(leg["end"], f"legs[{i}].end"),
        }
        for i, leg in enumerate(raw)
    ]
