"""Driver credentials: issued by the admin, presented as bearer tokens by REST clients.

Tokens are random, shown once and stored only as SHA-256 hashes (as peer tokens are). A
booking remembers the credential that made it; only that credential and the admin see it. The
admin lists credentials (never their tokens) and revokes one: its token is refused at once by
every process of the company (each forgets the tokens it knew when told, ``service.coherence``);
the bookings it made stay, readable by the admin.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from booking.errors import NotFound
from service import inputs
from service.context import Context


def issue(ctx: Context, name: str) -> dict:
    name = inputs.display_name(name)
    driver_id = f"drv-{uuid.uuid4().hex[:16]}"
    token = secrets.token_urlsafe(32)
    with ctx.store.transaction():
        ctx.store.add_driver(driver_id, name, token)
    return {"driver_id": driver_id, "name": name, "token": token}


def identify(ctx: Context, token: str) -> str | None:
    """The caller id (``driver:<id>``) a token stands for, or None. Known tokens are kept in
    memory: every driver request carries one."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    known = ctx.driver_tokens.get(digest)
    if known:
        return known
    with ctx.store.connection():
        driver = ctx.store.driver_for_token(token)
    if driver is None:
        return None
    ctx.driver_tokens[digest] = f"driver:{driver}"
    return ctx.driver_tokens[digest]


def listing(ctx: Context) -> list[dict]:
    with ctx.store.connection():
        return [{**d, "created_at": inputs.iso(d["created_at"]),
                 "revoked_at": inputs.iso(d["revoked_at"])} for d in ctx.store.list_drivers()]


def revoke(ctx: Context, driver_id: str) -> None:
    with ctx.store.transaction():
        if not ctx.store.revoke_driver(driver_id):
            raise NotFound(f"no driver credential {driver_id!r} at company {ctx.company}")
    ctx.driver_tokens.clear()  # this process at once; the others when told
    ctx.store.announce("drivers", driver_id)
