"""Turning JSON-shaped input (REST bodies, MQTT payloads) into domain values, one way for both."""

from __future__ import annotations

from datetime import UTC, datetime

from booking.errors import BadInput


def parse_time(text: str, name: str) -> datetime:
    """RFC 3339 with an offset; anything else is the client's error (400)."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise BadInput(f"{name!r} is not an RFC 3339 date-time: {text!r}") from exc
    if value.tzinfo is None:
        raise BadInput(f"{name!r} needs a time zone offset (e.g. 'Z'): {text!r}")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def legs(raw: list[dict]) -> list[dict]:
    """Booking legs with their times parsed."""
    return [{**leg, "start": parse_time(leg["start"], f"legs[{i}].start"),
             "end": parse_time(leg["end"], f"legs[{i}].end")} for i, leg in enumerate(raw)]
