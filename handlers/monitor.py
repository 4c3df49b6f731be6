"""GET /monitor/...: the console's read views (admin). Thin over service.monitor.

Each answer carries an ``ETag`` of its content (the clock excluded), so a console polling
every second gets 304 and redraws nothing while nothing changed."""

from __future__ import annotations

import hashlib
import json

from connexion import request

from handlers import serialize
from handlers.current import current
from service import monitor


def stations_map():
    return _tagged(monitor.federation_map(current()))


def stations():
    """Tagged by the catalog versions it is built from: a console that has them gets 304
    without the list being built or written."""
    ctx = current()
    versions = monitor.catalog_versions(ctx)
    etag = _etag(json.dumps(versions, sort_keys=True))
    if _matches(etag):
        return _not_modified(etag)
    return serialize.ok(monitor.federation_stations(ctx, versions),
                        headers={"ETag": etag, "Cache-Control": "no-cache"})


def timeline(from_=None, to=None):
    ctx = current()
    start = serialize.parse_time(from_, "from") if from_ else None
    end = serialize.parse_time(to, "to") if to else None
    span = monitor.timeline_span(start, end)
    version = monitor.timeline_version(ctx, span)
    etag = _etag(version)
    if _matches(etag):
        return _not_modified(etag)
    return serialize.ok(monitor.timeline(ctx, span, version),
                        headers={"ETag": etag, "Cache-Control": "no-cache"})


def federation():
    return _tagged(monitor.federation(current()))


def reservation_booking(reservation_id):
    return serialize.ok(monitor.booking_legs(current(), reservation_id))


def _tagged(body: dict):
    etag = _etag(json.dumps({k: v for k, v in body.items() if k != "time"}, default=str))
    if _matches(etag):
        return _not_modified(etag)
    return serialize.ok(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _etag(content: str) -> str:
    return f'"{hashlib.blake2b(content.encode(), digest_size=12).hexdigest()}"'


def _matches(etag: str) -> bool:
    return etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]


def _not_modified(etag: str):
    return None, 304, {"ETag": etag, "Content-Type": "application/json"}
