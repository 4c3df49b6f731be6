"""What one process of a company tells the others on its database: "something you keep in
memory changed" (a peer's catalog, the peers, the driver credentials).

On PostgreSQL it is ``NOTIFY`` on one channel, heard by every process through ``LISTEN`` on
a connection of its own (outside the pool: a pooled connection is lent to requests and cannot
wait for notifications). A notification sent inside a transaction leaves when it commits. A
process whose listening connection drops reconnects, and tells its own listeners that anything
may have changed meanwhile (``"*"``), so a lost notification costs a refresh, never a stale
cache. On SQLite (one process per company) a change is handed to this process's listeners
directly.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

import psycopg2
import psycopg2.extensions

from storage.database import postgres_dsn

log = logging.getLogger(__name__)

CHANNEL = "recarga_changes"
Listener = Callable[[str, str], None]  # (kind, argument)


class Changes:
    def __init__(self, url: str):
        self.dsn = postgres_dsn(url)
        self._listeners: list[Listener] = []
        self._stop = threading.Event()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def deliver_here(self, kind: str, argument: str = "") -> None:
        """To this process's listeners only (SQLite: there is no other process)."""
        self._deliver(f"{kind}:{argument}")

    def start(self) -> Changes:
        if self.dsn is not None:
            threading.Thread(target=self._listen, name="changes", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                conn = psycopg2.connect(
                    self.dsn, connect_timeout=5, application_name="recarga-changes"
                )
                conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                if not first:  # what was said while nobody listened is lost: refresh all
                    self._deliver("*:")
                first = False
                while not self._stop.is_set():
                    if select.select([conn], [], [], 1.0) == ([], [], []):
                        continue
                    conn.poll()
                    while conn.notifies:
                        self._deliver(conn.notifies.pop(0).payload)
            except (psycopg2.Error, OSError) as exc:
                log.warning("listening for changes failed (%s); reconnecting", exc)
                self._stop.wait(1.0)

    def _deliver(self, payload: str) -> None:
        kind, _, argument = payload.partition(":")
        for listener in list(self._listeners):
            try:
                listener(kind, argument)
            except Exception:  # one listener's failure must not silence the others
                log.exception("change listener failed on %s", payload)
