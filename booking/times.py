"""Times on the wire: RFC 3339 in (with an offset), RFC 3339 with ``Z`` out, one way for REST
bodies, MQTT payloads and the messages between companies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from booking.errors import BadInput, InvalidRequest

#: Times a request may name: anything outside is refused before any arithmetic can overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


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
        raise InvalidRequest(
            f"{name!r} lies outside the times this service handles "
            f"({EARLIEST.year}–{LATEST.year - 1}): {text!r}"
        ) from exc
    if not EARLIEST <= value < LATEST:
        raise InvalidRequest(
            f"{name!r} lies outside the times this service handles "
            f"({EARLIEST.year}–{LATEST.year - 1}): {text!r}"
        )
    return value


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    """The one way times leave this service: UTC, RFC 3339, with ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
