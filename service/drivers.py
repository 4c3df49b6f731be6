"""Driver credentials: issued by the admin, presented as bearer tokens by REST clients.

Tokens are random, shown once and stored only as SHA-256 hashes (as peer tokens are). A
booking remembers the credential that made it; only that credential and the admin see it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

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
