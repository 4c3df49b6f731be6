"""A timezone-aware timestamp column for both PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

_SQLITE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class TimestampTZField(peewee.Field):
    """TIMESTAMPTZ on PostgreSQL; on SQLite fixed-width UTC text, so text order is time order.

    The fixed width matters: the SQLite no-overlap trigger compares these strings.
    """

    field_type = "TIMESTAMPTZ"

    def _is_sqlite(self) -> bool:
        db = self.model._meta.database
        db = getattr(db, "obj", db)  # unwrap a DatabaseProxy
        return isinstance(db, peewee.SqliteDatabase)

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = parse_timestamp(value)
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.strftime(_SQLITE_FORMAT) if self._is_sqlite() else value

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            return parse_timestamp(value)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def parse_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
