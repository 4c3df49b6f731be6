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


def timeline(from_=None, to=None):
    start = serialize.parse_time(from_, "from") if from_ else None
    end = serialize.parse_time(to, "to") if to else None
    return _tagged(monitor.timeline(current(), start, end))


def federation():
    return _tagged(monitor.federation(current()))


def reservation_booking(reservation_id):
    return serialize.ok(monitor.booking_legs(current(), reservation_id))


def _tagged(body: dict):
    content = json.dumps({k: v for k, v in body.items() if k != "time"}, default=str)
    etag = f'"{hashlib.blake2b(content.encode(), digest_size=12).hexdigest()}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return None, 304, {"ETag": etag, "Content-Type": "application/json"}
    return serialize.ok(body, headers={"ETag": etag, "Cache-Control": "no-cache"})
