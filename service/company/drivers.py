"""Driver credentials: issued by the admin, presented as bearer tokens by REST clients.

Tokens are random, shown once and stored only as SHA-256 hashes (as peer tokens are). A
booking remembers the credential that made it; only that credential and the admin see it. The
admin lists credentials (never their tokens) and revokes one: its token is refused at once by
every process of the company (each forgets the tokens it knew when told, ``service.company.coherence``);
the bookings it made stay, readable by the admin. A credential may carry an expiry, after which
its token gets 401 like a revoked one; rotation gives the same driver (and its bookings) a new
token and makes the old one worthless, in every process, the same way.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from booking.errors import Conflict, InvalidRequest, NotFound
from booking.model import utcnow
from service.company import inputs
from service.company.context import Context

MAX_VALIDITY = timedelta(days=3650)


def _expiry(expires_at: str | None) -> datetime | None:
    """An expiry a credential may carry: in the future, within ten years (or none)."""
    if expires_at is None:
        return None
    when = inputs.parse_time(expires_at, "expires_at")
    now = utcnow()
    if not now < when <= now + MAX_VALIDITY:
        raise InvalidRequest("expires_at must be in the future and within ten years")
    return when


def _public(d: dict) -> dict:
    return {
        **d,
        **{
            k: inputs.iso(d[k])
            for k in ("created_at", "token_issued_at", "expires_at", "revoked_at")
        },
    }


def issue(ctx: Context, name: str, expires_at: str | None = None) -> dict:
    name = inputs.display_name(name)
    expiry = _expiry(expires_at)
    driver_id = f"drv-{uuid.uuid4().hex[:16]}"
    token = secrets.token_urlsafe(32)
    with ctx.store.transaction():
        driver = ctx.store.add_driver(driver_id, name, token, expiry)
    return {**_public(driver), "token": token}


def identify(ctx: Context, token: str) -> str | None:
    """The caller id (``driver:<id>``) a token stands for, or None (unknown, revoked, replaced
    or expired). Known tokens are kept in memory with their expiry: every driver request
    carries one."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    known = ctx.driver_tokens.get(digest)
    if known is None:
        with ctx.store.connection():
            found = ctx.store.driver_for_token(token)
        if found is None:
            return None
        known = (f"driver:{found[0]}", found[1])
        ctx.driver_tokens[digest] = known
    caller, expires = known
    return caller if expires is None or utcnow() < expires else None


def listing(ctx: Context) -> list[dict]:
    with ctx.store.connection():
        return [_public(d) for d in ctx.store.list_drivers()]


def rotate(ctx: Context, driver_id: str, expires_at: str | None = None) -> dict:
    """A new token for the same driver (its bookings stay its own); the old token gets 401
    from now on in every process of the company."""
    expiry = _expiry(expires_at)
    token = secrets.token_urlsafe(32)
    with ctx.store.transaction():
        outcome = ctx.store.rotate_driver(driver_id, token, expiry)
        driver = ctx.store.get_driver(driver_id)
    if outcome == "missing" or driver is None:
        raise NotFound(f"no driver credential {driver_id!r} at company {ctx.company}")
    if outcome == "revoked":
        raise Conflict(f"driver credential {driver_id!r} was revoked; issue a new one")
    ctx.driver_tokens.clear()  # this process at once; the others when told
    ctx.store.announce("drivers", driver_id)
    return {**_public(driver), "token": token}


def revoke(ctx: Context, driver_id: str) -> None:
    with ctx.store.transaction():
        if not ctx.store.revoke_driver(driver_id):
            raise NotFound(f"no driver credential {driver_id!r} at company {ctx.company}")
    ctx.driver_tokens.clear()  # this process at once; the others when told
    ctx.store.announce("drivers", driver_id)
