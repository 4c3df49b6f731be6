"""GET, POST and DELETE /peers: thin over service.company.peers."""

from __future__ import annotations

from handlers import serialize
from handlers.current import current
from service.company import peers


def list_peers():
    return serialize.ok({"items": peers.list_with_reachability(current())})


def register_peer(body, user=None):
    return serialize.ok(peers.join(current(), body, user), 201)


def remove_peer(company):
    peers.remove(current(), company)
    return None, 204
