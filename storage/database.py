"""Opening a company database from its URL and bringing its schema up to date."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, unquote, urlparse

import peewee
import psycopg2.extensions
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as migrate_schema
from playhouse.pool import PooledPostgresqlDatabase

from booking.model import ACTIVE_STATES, ReservationState
from storage.models import (
    ALL_MODELS,
    CoordinatorTx,
    Driver,
    ParticipantTx,
    Peer,
    Reservation,
    Setting,
    database_proxy,
)

SCHEMA_VERSION = "2"

#: The states that occupy a connector (booking.model.ACTIVE_STATES) as an SQL list, in the
#: enum's order: ('held', 'confirmed', 'charging'). The no-overlap constraint and triggers use it.
_ACTIVE_SQL = (
    "("
    + ", ".join(f"'{state.value}'" for state in ReservationState if state in ACTIVE_STATES)
    + ")"
)


class CheckedPool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, without a round trip for every connection it hands out.

    peewee 4 checks each connection it hands out with a ``SELECT 1`` under the pool's lock:
    two or three round trips per prepare or commit, about a sixth of a participant's time in
    its handlers. A connection handed back less than ``RECHECK_AFTER`` seconds ago with no
    transaction open is handed out on its local state alone; one idle for longer is checked
    as before, so one found dead after a quiet spell is still discarded before a request
    uses it. One that died within the second (the server restarted or terminated it) fails
    its request with a 503, and ``Store`` then closes every idle connection (they died with
    it): the next request opens a fresh one."""

    RECHECK_AFTER = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned: dict[int, float] = {}  # connection key -> when it was handed back

    def _is_closed(self, conn) -> bool:
        returned = self._returned.pop(self.conn_key(conn), None)
        if (
            returned is not None
            and time.monotonic() - returned < self.RECHECK_AFTER
            and not conn.closed
            and conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        ):
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn: bool = False) -> None:
        super()._close(conn, close_conn)
        if close_conn or conn.closed:
            self._returned.pop(self.conn_key(conn), None)
        else:
            self._returned[self.conn_key(conn)] = time.monotonic()

    def _close_raw(self, conn) -> None:
        self._returned.pop(self.conn_key(conn), None)
        super()._close_raw(conn)


def open_database(url: str, pool_size: int = 10, pool_timeout: float = 5.0) -> peewee.Database:
    """``sqlite:///path.db`` (or ``sqlite:///:memory:``) or ``postgresql://user@host:port/db``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if parsed.netloc:  # sqlite://relative/path.db
            path = parsed.netloc + parsed.path
        return peewee.SqliteDatabase(
            path or ":memory:",
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": 15000,
                "foreign_keys": 1,
                "synchronous": "normal",
            },
            timeout=15,
            check_same_thread=False,
            autoconnect=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return CheckedPool(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=pool_timeout,  # wait this long for a free connection, then Unavailable
            autoconnect=False,  # every use goes through Store.connection()/transaction()
            **options,
        )
    raise ValueError(
        f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)"
    )


def postgres_dsn(url: str) -> str | None:
    """The libpq connection string of a ``postgresql://`` URL (for a connection kept out of
    the pool), or None for SQLite."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        return None
    return "postgresql" + url[len(parsed.scheme) :]


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


class DatabaseUnreachable(RuntimeError):
    """The configured database cannot be opened; the message is one line saying what to do."""


def _unreachable(db: peewee.Database, exc: Exception) -> DatabaseUnreachable:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_sqlite(db):
        return DatabaseUnreachable(f"cannot open the SQLite file {db.database}: {first}")
    where = f"{db.connect_params.get('host')}:{db.connect_params.get('port')}"
    if "does not exist" in first and "database" in first:
        return DatabaseUnreachable(
            f"database {db.database!r} does not exist on {where}: create it (e.g. "
            f"createdb -h {db.connect_params.get('host')} -U "
            f"{db.connect_params.get('user') or 'postgres'} {db.database}) or point "
            f"RECARGA_DATABASE_URL at one"
        )
    return DatabaseUnreachable(
        f"cannot reach PostgreSQL at {where} (database "
        f"{db.database!r}): {first.split('FATAL:')[-1].strip()}"
    )


def migrate(db: peewee.Database) -> None:
    """Create missing tables and the no-overlap rule. Safe to run at every start."""
    with database_proxy.bound(db):
        _migrate(db)


def _migrate(db: peewee.Database) -> None:
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        raise _unreachable(db, exc) from None
    db.close()
    with db.connection_context():
        if not is_sqlite(db):
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS btree_gist")
        _upgrade(db)
        db.create_tables(ALL_MODELS, safe=True)
        _add_missing_columns(db)
        if is_sqlite(db):
            _sqlite_no_overlap(db)
        else:
            _postgres_no_overlap(db)
        Setting.insert(key="schema_version", value=SCHEMA_VERSION).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: SCHEMA_VERSION}
        ).execute()


def _upgrade(db: peewee.Database) -> None:
    """Schema 1 had placeholder federation tables that no release ever filled: recreate them."""
    if not Setting.table_exists():
        return
    row = Setting.get_or_none(Setting.key == "schema_version")
    if row is not None and row.value == "1":
        db.drop_tables([CoordinatorTx, ParticipantTx, Peer], safe=True)


def _add_missing_columns(db: peewee.Database) -> None:
    """Columns added after a table first shipped (databases of earlier releases)."""
    added = (
        (CoordinatorTx, ("owner", "decided_at", "lease_owner", "lease_until")),
        (Driver, ("revoked_at", "expires_at", "token_issued_at")),
    )
    for model, names in added:
        have = {c.name for c in db.get_columns(model._meta.table_name)}
        for name in names:
            if name not in have:
                migrator = SchemaMigrator.from_database(db)
                migrate_schema(
                    migrator.add_column(model._meta.table_name, name, getattr(model, name))
                )


def _postgres_no_overlap(db: peewee.Database) -> None:
    table = Reservation._meta.table_name
    exists = db.execute_sql(
        "SELECT 1 FROM pg_constraint WHERE conname = 'reservation_no_overlap'"
    ).fetchone()
    if not exists:
        db.execute_sql(
            f"ALTER TABLE {table} ADD CONSTRAINT reservation_no_overlap EXCLUDE USING gist "
            f"(connector_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            f"WHERE (state IN {_ACTIVE_SQL})"
        )
    exists = db.execute_sql(
        "SELECT 1 FROM pg_constraint WHERE conname = 'reservation_window_valid'"
    ).fetchone()
    if not exists:
        db.execute_sql(
            f"ALTER TABLE {table} ADD CONSTRAINT reservation_window_valid CHECK (start_at < end_at)"
        )


def _sqlite_no_overlap(db: peewee.Database) -> None:
    """Triggers that abort any insert or update creating an overlap of active windows.

    Writers take SQLite's write lock up front (BEGIN IMMEDIATE), so the check and the write
    are serialised across threads and processes.
    """
    table = Reservation._meta.table_name
    clash = (
        f"SELECT 1 FROM {table} r WHERE r.connector_id = NEW.connector_id AND r.id <> NEW.id "
        f"AND r.state IN {_ACTIVE_SQL} AND r.start_at < NEW.end_at AND NEW.start_at < r.end_at"
    )
    for event in ("INSERT", "UPDATE"):
        db.execute_sql(
            f"CREATE TRIGGER IF NOT EXISTS reservation_no_overlap_{event.lower()} "
            f"BEFORE {event} ON {table} "
            f"WHEN NEW.state IN {_ACTIVE_SQL} AND EXISTS ({clash}) "
            f"BEGIN SELECT RAISE(ABORT, 'reservation_no_overlap'); END"
        )
    db.execute_sql(
        f"CREATE TRIGGER IF NOT EXISTS reservation_window_valid "
        f"BEFORE INSERT ON {table} WHEN NEW.start_at >= NEW.end_at "
        f"BEGIN SELECT RAISE(ABORT, 'reservation_window_valid'); END"
    )
