"""Driver credentials (only their hashes)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from booking.model import utcnow
from storage import models as m
from storage.repository import Repository


def _digest(token: str) -> str:
    """What is stored of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class DriverRepository(Repository):
    def add_driver(
        self, driver_id: str, name: str, token: str, expires_at: datetime | None = None
    ) -> dict:
        now = utcnow()
        m.Driver.insert(
            id=driver_id,
            name=name,
            token_sha256=_digest(token),
            created_at=now,
            token_issued_at=now,
            expires_at=expires_at,
        ).execute()
        return self._driver(m.Driver.get(m.Driver.id == driver_id))

    def driver_for_token(self, token: str) -> tuple[str, datetime | None] | None:
        """The driver a token stands for and when the token expires, unless it was revoked
        (an expired token is the caller's to refuse: it knows the time)."""
        row = m.Driver.get_or_none(
            m.Driver.token_sha256 == _digest(token), m.Driver.revoked_at.is_null(True)
        )
        return (row.id, row.expires_at) if row else None

    @staticmethod
    def _driver(r) -> dict:
        return {
            "driver_id": r.id,
            "name": r.name,
            "created_at": r.created_at,
            "token_issued_at": r.token_issued_at or r.created_at,
            "expires_at": r.expires_at,
            "revoked_at": r.revoked_at,
        }

    def get_driver(self, driver_id: str) -> dict | None:
        row = m.Driver.get_or_none(m.Driver.id == driver_id)
        return self._driver(row) if row else None

    def list_drivers(self) -> list[dict]:
        """Every credential issued, newest first: ids, names and times, never a token."""
        q = m.Driver.select().order_by(m.Driver.created_at.desc(), m.Driver.id)
        return [self._driver(r) for r in q]

    def rotate_driver(self, driver_id: str, token: str, expires_at: datetime | None) -> str:
        """Give a driver a new token (the old one opens nothing from now on), under the row's
        lock: "ok", "revoked" or "missing"."""
        q = m.Driver.select().where(m.Driver.id == driver_id)
        row = (q if self.sqlite else q.for_update()).first()
        if row is None:
            return "missing"
        if row.revoked_at is not None:
            return "revoked"
        m.Driver.update(
            token_sha256=_digest(token), token_issued_at=utcnow(), expires_at=expires_at
        ).where(m.Driver.id == driver_id).execute()
        return "ok"

    def revoke_driver(self, driver_id: str) -> bool:
        """Revoke a credential (again: nothing changes); False when there is none such."""
        row = m.Driver.get_or_none(m.Driver.id == driver_id)
        if row is None:
            return False
        m.Driver.update(revoked_at=utcnow()).where(
            m.Driver.id == driver_id, m.Driver.revoked_at.is_null(True)
        ).execute()
        return True
