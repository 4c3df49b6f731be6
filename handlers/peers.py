"""GET and POST /peers."""

from __future__ import annotations

from booking.errors import NotImplementedYet

_LATER = "peer registration is not served by this version yet"


def list_peers():
    raise NotImplementedYet(_LATER)


def register_peer(body):
    raise NotImplementedYet(_LATER)
