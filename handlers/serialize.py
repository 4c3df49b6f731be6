"""Domain objects to the JSON shapes of the spec."""

from __future__ import annotations

from datetime import UTC, datetime

from booking.errors import InvalidRequest
from booking.model import Station, Window
from network.reference import Reference


def ok(body: dict, status: int = 200, headers: dict | None = None):
    """A JSON answer; the explicit content type tells connexion which documented type this is."""
    return body, status, {"Content-Type": "application/json", **(headers or {})}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str, name: str) -> datetime:
    """RFC 3339 with an offset; anything else is the client's error (400 problem)."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise BadInput(f"{name!r} is not an RFC 3339 date-time: {text!r}") from exc
    if value.tzinfo is None:
        raise BadInput(f"{name!r} needs a time zone offset (e.g. 'Z'): {text!r}")
    return value.astimezone(UTC)


class BadInput(InvalidRequest):
    """Malformed input (400), as opposed to well-formed but impossible input (422)."""

    title = "Bad Request"


def window(w: Window) -> dict:
    return {"start": iso(w.start), "end": iso(w.end)}


def station(s: Station, reference: Reference) -> dict:
    place = reference.network.places.get(s.place_id)
    return {
        "id": s.id, "company": s.company, "place_id": s.place_id,
        "place_name": place.name if place else s.place_id, "name": s.name,
        "lat": s.lat, "lon": s.lon, "status": s.status,
        "connectors": [{"id": c.id, "power_kw": c.power_kw, "price_per_kwh": c.price_per_kwh,
                        "standard": c.standard} for c in s.connectors],
    }
