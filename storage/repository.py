"""What every repository shares: the database and its unit of work, which
``storage.store.Store`` (the class that composes the repositories) provides."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import peewee

from storage.fields import parse_timestamp


class Repository:
    db: peewee.Database
    sqlite: bool
    transaction: Callable[[], contextlib.AbstractContextManager[None]]
    connection: Callable[[], contextlib.AbstractContextManager[None]]
    lease_stamp: Callable[[], dict]  # storage.processes: who works on a new transaction

    def raw_rows(self, query: peewee.Query, times: tuple[int, ...]) -> list[tuple]:
        """A query's rows as the driver gives them, for queries of thousands of rows a plan
        or a poll (peewee's per-value conversion cost as much as the query); the columns at
        ``times`` are parsed from SQLite's text (PostgreSQL gives datetimes)."""
        rows = self.db.execute_sql(*query.sql()).fetchall()
        if not self.sqlite:
            return rows
        return [
            tuple(parse_timestamp(v) if i in times else v for i, v in enumerate(row))
            for row in rows
        ]
