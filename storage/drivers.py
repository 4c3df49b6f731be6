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
        row = m.Driver.get_or_none(
            m.Driver.token_sha256 == hashlib.sha256(token.encode()).hexdigest())
        return row.id if row else None
