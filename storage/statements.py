"""The hot path's statements, their SQL built by peewee once per database kind, not per call.

peewee builds a statement's text anew on every call: in a participant's prepare and commit,
the same dozen texts cost about half of the process's Python time (cProfile,
docs/performance.md). A ``Statement`` is written with peewee as any other query, with a
``Slot`` where each value goes; its text is built the first time it runs on a kind of database
(PostgreSQL's or SQLite's quoting and placeholders; once per *shape*: the lengths of its
lists, the columns it sets), and every call fills the slots in, each converted by its
column's ``db_value`` as peewee would. A select's rows come back as light rows (its columns'
names as attributes, each read by its field's ``python_value``), not model instances: the
repositories map them to the domain's.

``BUILD_ONCE = False`` builds every statement per call again, through the same code: the
switch ``bench/pool_checkout.py`` measures side by side.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import peewee

BUILD_ONCE = True


class Slot(peewee.Node):
    """Where a call's value ``name`` goes (its item ``index``, for a list of values).

    Beside a column in a comparison it is converted by that column, as a value would be; in
    an insert or an update, give the column as ``field``."""

    def __init__(self, name: str, index: int | None = None, field: peewee.Field | None = None):
        super().__init__()
        self.name, self.index, self.field = name, index, field

    def __sql__(self, ctx: peewee.Context) -> peewee.Context:
        convert = self.field.db_value if self.field is not None else ctx.state.converter
        # converter=False: the marker goes in as it is, converted when a call fills it in
        return ctx.value(_Filled(self.name, self.index, convert), converter=False)


def slots(name: str, count: int) -> list[Slot]:
    """A list's ``count`` items as slots (``column.in_(slots("ids", n))``)."""
    return [Slot(name, i) for i in range(count)]


def one_by(key: peewee.Field, sqlite: bool, lock: bool = False) -> peewee.Node:
    """The row whose ``key`` is the call's value of that name, locked for the rest of the
    transaction with ``lock`` (on PostgreSQL; SQLite's write lock serialises writers)."""
    q = key.model.select().where(key == Slot(key.name)).limit(1)
    return q.for_update() if lock and not sqlite else q


class _Filled:
    __slots__ = ("name", "index", "convert")

    def __init__(self, name: str, index: int | None, convert: Callable[[Any], Any] | None):
        self.name, self.index, self.convert = name, index, convert

    def value(self, values: dict[str, Any]) -> Any:
        value = values[self.name]
        if self.index is not None:
            value = value[self.index]
        return self.convert(value) if self.convert is not None else value


class _Built:
    """A statement's text for one kind of database and shape, and how to read its rows."""

    __slots__ = ("sql", "params", "_row", "_read")

    def __init__(self, query: peewee.Node, sql: str, params: list):
        self.sql, self.params = sql, params
        columns = [
            c for c in getattr(query, "_returning", None) or [] if isinstance(c, peewee.Field)
        ]
        self._row: Any = namedtuple("Row", [c.column_name for c in columns]) if columns else None
        self._read = [c.python_value for c in columns]

    def fill(self, values: dict) -> list:
        return [p.value(values) if isinstance(p, _Filled) else p for p in self.params]

    def row(self, values: tuple) -> Any:
        assert self._row is not None, "rows() is for a select of a model's columns"
        return self._row._make(
            None if v is None else read(v) for read, v in zip(self._read, values, strict=True)
        )


class Statement:
    """One statement of the hot path. ``build(sqlite, *shape)`` returns the peewee query with
    slots (``sqlite``: which kind of database, for what only PostgreSQL has, such as row
    locks; ``shape``: what else makes its text differ from call to call, such as the lengths
    of its lists, for as many slots)."""

    def __init__(self, build: Callable[..., peewee.Node]):
        self._build = build
        self._built: dict[tuple, _Built] = {}
        self._lock = threading.Lock()

    def _get(self, db: peewee.Database, shape: tuple[Hashable, ...]) -> _Built:
        key = (type(db), shape)
        built = self._built.get(key) if BUILD_ONCE else None
        if built is None:
            query = self._build(isinstance(db, peewee.SqliteDatabase), *shape)
            built = _Built(query, *db.get_sql_context().sql(query).query())
            if BUILD_ONCE:
                with self._lock:
                    built = self._built.setdefault(key, built)
        return built

    def execute(self, db: peewee.Database, shape: tuple = (), **values) -> Any:
        """Run it: the cursor (``rowcount``, ``fetchone()`` of a ``RETURNING``)."""
        built = self._get(db, shape)
        return db.execute_sql(built.sql, built.fill(values))

    def rows(self, db: peewee.Database, shape: tuple = (), **values) -> Iterator[Any]:
        """Run a select of a model's columns: its rows, each column read by its field as
        peewee reads it, with the columns' names as attributes (a row, not a model
        instance: nothing to save back)."""
        built = self._get(db, shape)
        cursor = db.execute_sql(built.sql, built.fill(values))
        return (built.row(row) for row in cursor.fetchall())

    def first(self, db: peewee.Database, shape: tuple = (), **values) -> Any | None:
        return next(self.rows(db, shape, **values), None)
