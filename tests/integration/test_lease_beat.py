"""A process's beat renews its leases locking their rows in id order, as phase two's
acknowledgements lock them (``CoordinatorLog.update_txs``): the two never deadlock. They did,
now and then under load (an update of them all locked them in the order the table was
scanned), and each time a booking deciding meanwhile waited a second — PostgreSQL's deadlock
timeout — on its row."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import psycopg2
import pytest

from storage import Store
from storage import models as m
from storage.database import postgres_dsn
from tests.integration.transactions import committed_tx

LEASE = timedelta(seconds=15)


@pytest.fixture
def store(pg_url):
    s = Store(pg_url, pool_size=4)
    s.register_process("me", "r1", LEASE)
    with s.connection():
        for name in ("b", "a"):  # written b first: the order a scan of the table meets them
            s.add_tx(committed_tx(name))
    yield s
    s.close()


@contextlib.contextmanager
def _connection(pg_url):
    conn = psycopg2.connect(postgres_dsn(pg_url))
    try:
        yield conn
    finally:
        conn.close()


def _leases(store: Store) -> dict:
    with store.connection():
        return {r.tx_id: r.lease_until for r in m.CoordinatorTx.select()}


def test_a_beat_and_phase_two_locking_the_same_rows_never_deadlock(store, pg_url):
    before = _leases(store)
    with _connection(pg_url) as phase_two, _connection(pg_url) as watcher:
        watcher.autocommit = True
        cur = phase_two.cursor()
        # phase two's acknowledgements lock their rows in id order: tx-a first...
        cur.execute("SELECT tx_id FROM coordinator_tx WHERE tx_id = 'tx-a' FOR UPDATE")
        failed: list[BaseException] = []

        def beat() -> None:
            try:
                store.beat(["tx-a", "tx-b"])
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failed.append(exc)

        thread = threading.Thread(target=beat)
        thread.start()
        # ...the beat comes and waits on a row lock...
        deadline = time.monotonic() + 10
        with watcher.cursor() as w:
            while True:
                w.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                if w.fetchone()[0]:
                    break
                assert time.monotonic() < deadline, "the beat never waited on a row lock"
                time.sleep(0.01)
        # ...and phase two goes on to tx-b: free, since the beat holds nothing yet
        cur.execute(
            "SET LOCAL lock_timeout = '3s'; "
            "SELECT tx_id FROM coordinator_tx WHERE tx_id = 'tx-b' FOR UPDATE"
        )
        phase_two.commit()
        thread.join(10)
    assert not thread.is_alive() and failed == []
    after = _leases(store)
    assert all(after[tx] > before[tx] for tx in ("tx-a", "tx-b"))
