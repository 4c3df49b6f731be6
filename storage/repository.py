"""What every repository shares: the database and its unit of work, which
``storage.store.Store`` (the class that composes the repositories) provides."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import peewee


class Repository:
    db: peewee.Database
    sqlite: bool
    transaction: Callable[[], contextlib.AbstractContextManager[None]]
    connection: Callable[[], contextlib.AbstractContextManager[None]]
