"""Bearer token checks named by the spec's securitySchemes (x-bearerInfoFunc)."""

from __future__ import annotations

import hashlib
import hmac

from handlers.current import current
from service.company import drivers


def admin_token_info(token: str) -> dict | None:
    ctx = current()
    if ctx.admin_token and hmac.compare_digest(token.encode(), ctx.admin_token.encode()):
        return {"sub": "admin"}
    return None


def peer_token_info(token: str) -> dict | None:
    """A registered peer's token. Checked against the cached peer list first (every 2PC
    message carries one), then the database (a handshake may have just rotated it)."""
    ctx = current()
    digest = hashlib.sha256(token.encode()).hexdigest()
    for company, peer in ctx.peers().items():
        if digest in peer["token_hashes"]:
            return {"sub": company}
    with ctx.store.connection():
        owner = ctx.store.peer_for_token(token)
    return {"sub": owner} if owner else None


def driver_token_info(token: str) -> dict | None:
    """A driver credential issued by this company's admin (``POST /drivers``)."""
    caller = drivers.identify(current(), token)
    return {"sub": caller} if caller else None


def registration_token_info(token: str) -> dict | None:
    """The federation's registration secret: it only opens the peer handshake."""
    ctx = current()
    if ctx.registration_token and hmac.compare_digest(
        token.encode(), ctx.registration_token.encode()
    ):
        return {"sub": "registration"}
    return None
