"""Domain errors. Adapters map them to HTTP statuses or MQTT error replies."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``title`` is a short human summary, ``detail`` the specifics."""

    title = "Error"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    title = "Not found"


class InvalidRequest(DomainError):
    title = "Invalid request"


class BadInput(InvalidRequest):
    """Malformed input (400), as opposed to well-formed but impossible input (422)."""

    title = "Bad Request"


class Unauthorized(DomainError):
    title = "Unauthorized"


class Conflict(DomainError):
    """A window is taken. ``extra['conflicts']`` lists the legs in conflict."""

    title = "Conflict"


class PeerUnavailable(DomainError):
    title = "Peer unavailable"
