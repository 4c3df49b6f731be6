"""The repository and unit of work the service layer talks to.

Rows go in and come out as ``booking.model`` objects, so nothing above this package sees peewee.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

import peewee
from playhouse.pool import MaxConnectionsExceeded

from booking.errors import Contended, Unavailable
from storage import models as m
from storage.changes import CHANNEL, Changes
from storage.coordinator_log import CoordinatorLog
from storage.database import is_sqlite, migrate, open_database
from storage.drivers import DriverRepository
from storage.monitor import MonitorRepository
from storage.participant_records import ParticipantRecords
from storage.peers import PeerRepository
from storage.processes import ProcessRepository
from storage.reservations import ReservationRepository
from storage.stations import StationRepository
from storage.telemetry import TelemetryRepository

#: What the database (or its pool) raises when it cannot serve now: the client may retry.
_UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded)

#: SQLSTATEs of a transaction the database gave up for a concurrent one: safe to run again.
_CONTENDED = {
    "40P01": "deadlock detected",
    "40001": "serialization failure",
    "55P03": "lock not granted in time",
}

log = logging.getLogger(__name__)


class Store(
    PeerRepository,
    DriverRepository,
    StationRepository,
    ReservationRepository,
    TelemetryRepository,
    CoordinatorLog,
    ParticipantRecords,
    MonitorRepository,
    ProcessRepository,
):
    """One company's database: the unit of work (``connection``, ``transaction``) and every
    repository, each in its own module beside its row mappers."""

    def __init__(self, url: str, pool_size: int = 10, pool_timeout: float = 5.0):
        self.url = url
        self.db = open_database(url, pool_size=pool_size, pool_timeout=pool_timeout)
        migrate(self.db)
        self.sqlite = is_sqlite(self.db)
        self.changes = Changes(url)
        self._after = threading.local()  # per thread: callbacks waiting for the outer commit

    def announce(self, kind: str, argument: str = "") -> None:
        """Tell every process of the company (this one too) that ``kind`` changed; inside a
        transaction, when it commits (``storage/changes.py``)."""
        if self.sqlite:
            self.changes.deliver_here(kind, argument)
            return
        with self.connection():
            self.db.execute_sql("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind}:{argument}"))

    # -- connections and transactions -------------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        """A connection for the current thread, returned to the pool afterwards.

        A database that cannot serve now (down, pool exhausted past its wait, locked) raises
        ``Unavailable`` (503 with Retry-After), never a driver error."""
        with self._available(), m.database_proxy.bound(self.db):
            with self.db.connection_context():
                yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work. On SQLite it takes the write lock up front, which
        serialises the overlap check and the write across threads and processes."""
        outer = not hasattr(self._after, "callbacks")
        if outer:
            self._after.callbacks = []
        try:
            with self._available(), m.database_proxy.bound(self.db):
                with self.db.connection_context():
                    if self.sqlite and not self.db.in_transaction():
                        with self.db.atomic("IMMEDIATE"):
                            yield
                    else:
                        with self.db.atomic():
                            yield
        except BaseException:
            if outer:
                del self._after.callbacks  # rolled back: what waited for it never happens
            raise
        if outer:
            callbacks = self._after.callbacks
            del self._after.callbacks
            for callback in callbacks:
                callback()

    def on_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the outermost transaction of this thread has committed (at
        once outside one; never if it rolls back): what others read after a change — a
        station's schedule published to it — must not be read before the change is visible."""
        callbacks = getattr(self._after, "callbacks", None)
        if callbacks is None:
            callback()
        else:
            callbacks.append(callback)

    @contextlib.contextmanager
    def _available(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            code = getattr(getattr(exc, "orig", None), "pgcode", None) or getattr(
                exc.__cause__, "pgcode", None
            )
            if code in _CONTENDED:
                raise Contended(
                    f"a concurrent transaction on the same rows went first "
                    f"({_CONTENDED[code]}); nothing was written"
                ) from exc
            log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
            if not isinstance(exc, MaxConnectionsExceeded) and hasattr(self.db, "close_idle"):
                # the connections waiting in the pool most likely died with this one (a
                # restart, a terminate): the next request opens a fresh one (CheckedPool)
                self.db.close_idle()
            raise Unavailable(
                f"the database of this server cannot serve now "
                f"({type(exc).__name__}); try again shortly"
            ) from exc

    def close(self) -> None:
        self.changes.stop()
        if isinstance(self.db, peewee.PostgresqlDatabase) and hasattr(self.db, "close_all"):
            self.db.close_all()
        elif not self.db.is_closed():
            self.db.close()

    # -- settings ---------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = m.Setting.get_or_none(m.Setting.key == key)
        return row.value if row else None
