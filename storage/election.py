"""One worker per company for what must run once, elected through PostgreSQL.

The process holding the session-level advisory lock ``KEY`` on its own connection (outside the
pool: a pooled connection would carry the lock to whichever request borrows it next) is the
one. It keeps the lock while its connection lives; when the process dies the connection closes
and PostgreSQL frees the lock at once, and the next process to ask gets it. On SQLite (the
local demo: one process per company) this process is always the one.
"""

from __future__ import annotations

import logging
import threading
import zlib
from typing import Any

import psycopg2

from storage.database import postgres_dsn

log = logging.getLogger(__name__)

KEY = zlib.crc32(b"recarga:company-worker")  # one advisory lock per company database


class Election:
    def __init__(self, url: str):
        self.dsn = postgres_dsn(url)  # None: SQLite
        self._conn: Any = None
        self._lock = threading.Lock()
        self.leading = self.dsn is None

    def lead(self) -> bool:
        """Whether this process is the company's worker now (asks again if it was not, and
        checks that the connection holding the lock is still alive if it was)."""
        if self.dsn is None:
            return True
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(
                        self.dsn, connect_timeout=5, application_name="recarga-election"
                    )
                    self._conn.autocommit = True
                    self.leading = False
                with self._conn.cursor() as cur:
                    if self.leading:
                        cur.execute("SELECT 1")
                    else:
                        cur.execute("SELECT pg_try_advisory_lock(%s)", (KEY,))
                        self.leading = bool(cur.fetchone()[0])
                        if self.leading:
                            log.info("this process runs the company's recovery worker")
            except psycopg2.Error as exc:
                if self.leading:
                    log.warning("lost the company worker's lock: %s", exc)
                self.leading = False
                self._close()
            return self.leading

    def resign(self) -> None:
        with self._lock:
            self.leading = self.dsn is None
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None
