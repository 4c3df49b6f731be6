"""Driver credentials (only their hashes)."""

from __future__ import annotations

import hashlib

from booking.model import utcnow
from storage import models as m
from storage.repository import Repository


class DriverRepository(Repository):
    def add_driver(self, driver_id: str, name: str, token: str) -> None:
        m.Driver.insert(id=driver_id, name=name,
                        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                        created_at=utcnow()).execute()

    def driver_for_token(self, token: str) -> str | None:
        """The driver a token stands for, unless it was revoked."""
        row = m.Driver.get_or_none(
            m.Driver.token_sha256 == hashlib.sha256(token.encode()).hexdigest(),
            m.Driver.revoked_at.is_null(True))
        return row.id if row else None

    def list_drivers(self) -> list[dict]:
        """Every credential issued, newest first: ids, names and times, never a token."""
        q = m.Driver.select().order_by(m.Driver.created_at.desc(), m.Driver.id)
        return [{"driver_id": r.id, "name": r.name, "created_at": r.created_at,
                 "revoked_at": r.revoked_at} for r in q]

    def revoke_driver(self, driver_id: str) -> bool:
        """Revoke a credential (again: nothing changes); False when there is none such."""
        row = m.Driver.get_or_none(m.Driver.id == driver_id)
        if row is None:
            return False
        m.Driver.update(revoked_at=utcnow()).where(
            m.Driver.id == driver_id, m.Driver.revoked_at.is_null(True)).execute()
        return True
