"""GET /catalog, POST /catalog/notify and POST /availability: what peers keep a copy of, and
what they ask of it per plan. Thin over service.catalogs.stations and service.catalogs.peer_catalogs."""

from __future__ import annotations

from booking.errors import Unauthorized
from handlers import serialize
from handlers.current import current
from service.catalogs import stations as svc
from service.company import coherence


def get_catalog(since=None):
    ctx = current()
    if since is None:
        etag = f'"{svc.catalog_version(ctx)}"'
        if unchanged := serialize.not_modified(etag):
            return unchanged
    body = svc.catalog(ctx, since)
    return serialize.ok(body, headers={"ETag": f'"{body["version"]}"'} if since is None else {})


def notify(body, token_info=None):
    """A peer's catalog changed: catch up with it now (in the background)."""
    caller = (token_info or {}).get("sub")
    if not caller:
        raise Unauthorized("a peer token is required")
    coherence.peer_catalog_changed(current(), caller)
    return serialize.ok({"company": current().company, "syncing": caller}, 202)


def availability(body):
    start = serialize.parse_time(body["from"], "from")
    end = serialize.parse_time(body["to"], "to")
    return serialize.ok(svc.states(current(), start, end, body.get("places")))
