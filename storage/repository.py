"""What every repository shares: the database and its unit of work (``storage.store.Store``
provides them)."""

from __future__ import annotations

import contextlib

import peewee


class Repository:
    db: peewee.Database
    sqlite: bool

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def connection(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError
