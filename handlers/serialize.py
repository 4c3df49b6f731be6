"""Domain objects to the JSON shapes of the spec."""

from __future__ import annotations

from connexion import request

from booking.errors import BadInput
from booking.model import Station, Window
from network.reference import Reference
from service.catalogs.catalog import static_station
from service.company.inputs import iso, parse_time


def ok(body: dict, status: int = 200, headers: dict | None = None):
    """A JSON answer; the explicit content type tells connexion which documented type this is."""
    return body, status, {"Content-Type": "application/json", **(headers or {})}


def not_modified(etag: str):
    """304 when the request's If-None-Match names ``etag``, else None (answer in full)."""
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return None, 304, {"ETag": etag, "Content-Type": "application/json"}
    return None


__all__ = ["BadInput", "iso", "not_modified", "ok", "parse_time", "station", "window"]


def window(w: Window) -> dict:
    return {"start": iso(w.start), "end": iso(w.end)}


def station(s: Station, reference: Reference) -> dict:
    """A station as the API shows it: its catalog entry, its place's name and its status."""
    place = reference.network.places.get(s.place_id)
    return {
        **static_station(s),
        "place_name": place.name if place else s.place_id,
        "status": s.status,
    }
