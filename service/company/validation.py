"""JSON Schema validation as the contract means it, for every adapter (REST and MQTT).

A JSON Schema ``pattern`` is an ECMA-262 regular expression, where ``$`` is the end of the
text. jsonschema runs it with Python's ``re``, where ``$`` also matches *before a final
newline*: ``"car-1\\n"`` passed every identifier pattern of the contract, was stored, and then
broke topics, URLs and listings. Here ``pattern`` runs on ``regress`` (Rust's ECMA-262 engine,
the one jsonschema itself uses for ``format: regex``), so the contract reads the same in
Python as in every other client, and the same check serves ids the code tests itself
(``matches``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
import jsonschema.validators
import regress
from jsonschema.exceptions import ValidationError


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> regress.Regex:
    return regress.Regex(pattern)


def matches(pattern: str, text: str) -> bool:
    """``text`` matches the ECMA-262 ``pattern`` (searched, as JSON Schema says: anchor it)."""
    return _regex(pattern).find(text) is not None


def _pattern(validator: Any, pattern: str, instance: object, schema: dict) -> Iterator:
    if validator.is_type(instance, "string") and not matches(pattern, str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict, instance: object, schema: dict) -> Iterator:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():  # type: ignore[attr-defined]
            if matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def ecma(cls: type) -> type:
    """``cls`` (a jsonschema validator class) with ECMA-262 ``pattern`` and
    ``patternProperties``."""
    return jsonschema.validators.extend(
        cls, {"pattern": _pattern, "patternProperties": _pattern_properties}
    )


#: Draft 7 with ECMA-262 patterns: MQTT payloads.
Draft7 = ecma(jsonschema.Draft7Validator)
#: Draft 4 with ECMA-262 patterns: OpenAPI 3.0 parameters.
Draft4 = ecma(jsonschema.Draft4Validator)
