"""GET and POST /peers: thin over service.peers."""

from __future__ import annotations

from booking.errors import InvalidRequest, Unauthorized
from handlers import serialize
from handlers.current import current
from service import peers


def list_peers():
    items = peers.list_with_reachability(current())
    for item in items:
        item["last_ok_at"] = serialize.iso(item["last_ok_at"]) if item["last_ok_at"] else None
        synced = item["catalog"]["synced_at"]
        item["catalog"]["synced_at"] = serialize.iso(synced) if synced else None
    return serialize.ok({"items": items})


def register_peer(body, user=None):
    ctx = current()
    if "company" in body or "token" in body:
        if not ("company" in body and "token" in body):
            raise InvalidRequest("the handshake needs both 'company' and 'token'")
        return serialize.ok(peers.accept(ctx, body["company"], body["url"], body["token"],
                                         body.get("current_token")), 201)
    if user != "admin":
        raise Unauthorized("registering with another server needs this server's admin token")
    peer = peers.register(ctx, body["url"], body.get("registration_token"))
    peer["last_ok_at"] = serialize.iso(peer["last_ok_at"])
    return serialize.ok({"company": peer["company"], "url": peer["url"], "token": "(stored)"},
                        201)


def remove_peer(company):
    peers.remove(current(), company)
    return None, 204
