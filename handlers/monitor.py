"""GET /monitor/...: the console's read views (admin). Thin over service.monitor.

Each answer carries an ``ETag`` of its content (the clock excluded), so a console polling
every second gets 304 and redraws nothing while nothing changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from handlers import serialize
from handlers.current import current
from service import monitor


def stations_map():
    return _by_content(monitor.federation_map(current()))


def stations():
    """Tagged by the catalog versions it is built from: a console that has them gets 304
    without the list being built or written."""
    ctx = current()
    versions = monitor.catalog_versions(ctx)
    return _answer(
        _etag(json.dumps(versions, sort_keys=True)),
        lambda: monitor.federation_stations(ctx, versions),
    )


def timeline(from_=None, to=None):
    ctx = current()
    start = serialize.parse_time(from_, "from") if from_ else None
    end = serialize.parse_time(to, "to") if to else None
    span = monitor.timeline_span(ctx, start, end)
    version = monitor.timeline_version(ctx, span)
    return _answer(_etag(str(version)), lambda: monitor.timeline(ctx, span, version))


def federation():
    return _by_content(monitor.federation(current()))


def reservation_booking(reservation_id):
    return serialize.ok(monitor.booking_legs(current(), reservation_id))


def _by_content(body: dict):
    """Tagged by its content, the clock excluded."""
    return _answer(
        _etag(json.dumps({k: v for k, v in body.items() if k != "time"}, default=str)), lambda: body
    )


def _answer(etag: str, build: Callable[[], dict]):
    """304 when the console has ``etag``; else what ``build`` makes, tagged."""
    if unchanged := serialize.not_modified(etag):
        return unchanged
    return serialize.ok(build(), headers={"ETag": etag, "Cache-Control": "no-cache"})


def _etag(content: str) -> str:
    return f'"{hashlib.blake2b(content.encode(), digest_size=12).hexdigest()}"'
