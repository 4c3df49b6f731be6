"""Domain errors. Each carries the status both adapters answer it with (HTTP, MQTT)."""

from __future__ import annotations

from typing import Any


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The one shape of an error body (RFC 9457 problem details), for REST and MQTT alike."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


class DomainError(Exception):
    """Base class; ``title`` is a short human summary, ``detail`` the specifics."""

    title = "Error"
    status = 400

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        return problem(self.status, self.title, self.detail, **self.extra)


class NotFound(DomainError):
    title = "Not found"
    status = 404


class InvalidRequest(DomainError):
    """Well-formed but impossible input (a window that ends before it starts)."""

    title = "Invalid request"
    status = 422


class BadInput(InvalidRequest):
    """Malformed input (400), as opposed to well-formed but impossible input (422)."""

    title = "Bad Request"
    status = 400


class TooLarge(BadInput):
    title = "Payload too large"
    status = 413


class Unauthorized(DomainError):
    title = "Unauthorized"
    status = 401


class Conflict(DomainError):
    """A window is taken, or a message contradicts what was decided (409)."""

    title = "Conflict"
    status = 409


class PeerUnavailable(DomainError):
    title = "Peer unavailable"
    status = 503
    retry_after = 5  # a request that needed a silent or unreachable company: try again then


class Unavailable(DomainError):
    """This server cannot do it now (its database is unreachable or busy): try again later."""

    title = "Service unavailable"
    status = 503
    retry_after = 2


class Contended(Unavailable):
    """The database gave up one transaction to let a concurrent one on the same rows go on
    (a deadlock broken, a serialization failure, a lock not granted within the time left).
    Nothing of it was written: the work may be done again at once. Where nobody does it again,
    it is a 503 like any moment the database cannot serve."""
