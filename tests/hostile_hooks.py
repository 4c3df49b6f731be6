"""schemathesis hooks for tests/e2e/test_fuzz.py (``SCHEMATHESIS_HOOKS=tests.hostile_hooks``).

About half of the generated cases get one hostile value in place of a well-formed one:

* an identifier (a path parameter, a query filter, or a body field that names a company,
  station, connector, car, booking, transaction, reservation or place) with a trailing newline,
  carriage return, tab, escape, NUL or DEL, a leading newline, or one character past any id's
  maximum;
* a number of 4,301 digits (past Python's integer-string limit) anywhere a body or query
  carries a number.

Only cases of the fuzzing phase are changed: the stateful phase chains real resources, and its
steps are judged as schema-valid whatever a hook does to them.

schemathesis revalidates a case changed by a hook (with ECMA-262 patterns), so such a case is
negative data: every check that applies to negative data runs on it, and ``hostile_is_refused``
requires a 4xx for each. Each hostile case is counted in ``RECARGA_HOSTILE_LOG`` so the test can
tell the hooks really ran.
"""

from __future__ import annotations

import os
import sys

import schemathesis
from hypothesis import strategies as st

sys.set_int_max_str_digits(0)  # this client sends integers Python would refuse to print

ID_KEYS = {
    "company",
    "coordinator",
    "station_id",
    "connector_id",
    "car_id",
    "booking_id",
    "tx_id",
    "reservation_id",
    "id",
    "place_id",
    "place",
    "places",
    "avoid_companies",
}
FILLER = "z" * 81  # past the longest id of the contract (a connector id: 80)
ID_VARIANTS = ("\n", "\r", "\r\n", "\t", "\x1b", "\x00", "\x7f", "lead\n", FILLER)
HUGE = 10**4301
NUMBER_VARIANTS = (HUGE, -HUGE)  # (1e999 cannot be sent: the client's JSON writer refuses inf)


def _spots(value, path=(), key=None):
    """(path, kind) of every identifier string and every number below ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _spots(v, (*path, k), k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _spots(v, (*path, i), key)
    elif isinstance(value, str) and key in ID_KEYS:
        yield path, "id"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, "number"


def _replace(container, path, new):
    """A copy of ``container`` with the value at ``path`` replaced."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(container, dict):
        return {**container, head: _replace(container[head], rest, new)}
    copy = list(container)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _get(container, path):
    for step in path:
        container = container[step]
    return container


def _hostile(old, kind: str, variant: int):
    if kind == "number":
        return NUMBER_VARIANTS[variant % len(NUMBER_VARIANTS)]
    suffix = ID_VARIANTS[variant % len(ID_VARIANTS)]
    text = str(old) or "a"
    return "\n" + text if suffix == "lead\n" else text + suffix


def _count() -> None:
    log = os.environ.get("RECARGA_HOSTILE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("1\n")


@schemathesis.hook
def flatmap_case(context, case):
    meta = getattr(case, "_meta", None)
    if meta is None or meta.phase.name != "fuzzing":
        return st.just(case)
    spots = []
    if isinstance(case.body, dict | list):
        spots += [("body", path, kind) for path, kind in _spots(case.body)]
    for name in case.path_parameters or {}:
        spots.append(("path_parameters", (name,), "id"))
    for name, value in (case.query or {}).items():
        if name in ID_KEYS:
            spots.append(("query", (name,), "id"))
        elif isinstance(value, int) and not isinstance(value, bool):
            spots.append(("query", (name,), "number"))
    if not spots:
        return st.just(case)

    def apply(choice):
        if choice is None:
            return case
        (container, path, kind), variant = choice
        current = getattr(case, container)
        setattr(
            case, container, _replace(current, path, _hostile(_get(current, path), kind, variant))
        )
        _count()
        return case

    return st.one_of(st.none(), st.tuples(st.sampled_from(spots), st.integers(0, 20))).map(apply)


def _is_hostile(value, key=None) -> bool:
    if isinstance(value, dict):
        return any(_is_hostile(v, k) for k, v in value.items())
    if isinstance(value, list):
        return any(_is_hostile(v, key) for v in value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 10**300
    if isinstance(value, str) and key in ID_KEYS:
        return FILLER in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    return False


@schemathesis.check
def hostile_is_refused(ctx, response, case):
    """An identifier with a control character or past its length, or a number no value can
    hold, is refused with a 4xx (and never stored: the other checks and tests see to that)."""
    params = {k: v for k, v in (case.path_parameters or {}).items()}
    hostile = (
        _is_hostile(case.body if isinstance(case.body, dict | list) else None)
        or _is_hostile(case.query or {})
        or any(_is_hostile(v, "id") for v in params.values())
    )
    if hostile and not 400 <= response.status_code < 500:
        raise AssertionError(f"a hostile value got {response.status_code}, not a 4xx")
    return None
