"""The PostgreSQL pool hands a connection back out without a round trip when it was in use a
moment ago, checks one that waited longer, and after a connection died under a request (a
503) opens fresh ones instead of handing out the others that died with it."""

from __future__ import annotations

import contextlib
import threading
import time

import psycopg2
import pytest

from booking.errors import Unavailable
from storage import Store
from storage.database import postgres_dsn


@pytest.fixture
def store(pg_url):
    s = Store(pg_url, pool_size=2)
    yield s
    s.close()


@contextlib.contextmanager
def _admin(pg_url):
    conn = psycopg2.connect(postgres_dsn(pg_url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _pid(store: Store) -> int:
    with store.connection():
        return store.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def _last_query(pg_url, pid: int) -> str:
    with _admin(pg_url) as cur:
        cur.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,))
        return cur.fetchone()[0]


def _terminate(pg_url, pid: int) -> None:
    """Terminate a backend and wait until it is gone (termination is asynchronous)."""
    with _admin(pg_url) as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while True:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if cur.fetchone()[0] == 0:
                return
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.01)


def _two_connections(store: Store) -> set[int]:
    """Put two connections in the pool (both in use at once, then handed back)."""
    ready, go, pids = threading.Barrier(2), threading.Event(), set()

    def hold():
        with store.connection():
            pids.add(store.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
            ready.wait(10)
            go.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    with store.connection():
        pids.add(store.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
        ready.wait(10)
    go.set()
    t.join(10)
    assert len(pids) == 2
    return pids


@pytest.mark.parametrize("recheck_after, between", [(60.0, "SELECT 42"), (0.0, "SELECT 1")])
def test_a_connection_handed_back_a_moment_ago_goes_out_again_without_a_round_trip(
    store, pg_url, recheck_after, between
):
    """Within ``RECHECK_AFTER`` the statement before the checkout is still the last one the
    connection ran; past it (and in peewee's own pool, always) a ``SELECT 1`` came between."""
    store.db.RECHECK_AFTER = recheck_after
    pid = _pid(store)
    with store.connection():
        store.db.execute_sql("SELECT 42")
    with store.connection():
        assert _last_query(pg_url, pid) == between
        assert store.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] == pid


def test_a_connection_that_waited_is_checked_and_a_dead_one_discarded_before_use(store, pg_url):
    store.db.RECHECK_AFTER = 0.0  # every connection has waited "long"
    pid = _pid(store)
    _terminate(pg_url, pid)
    # the check finds it dead and opens another: the request does not fail
    assert _pid(store) != pid


def test_a_connection_that_died_a_moment_ago_fails_its_request_then_fresh_ones_serve(store, pg_url):
    store.db.RECHECK_AFTER = 60.0
    pids = _two_connections(store)  # both about to die
    for pid in pids:
        _terminate(pg_url, pid)
    with pytest.raises(Unavailable), store.connection():
        store.db.execute_sql("SELECT 1")
    # the other dead one was closed with it: the next request opens a fresh connection
    assert _pid(store) not in pids
    assert _pid(store) not in pids
