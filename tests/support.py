"""Helpers for tests that run real processes, databases and brokers."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("RECARGA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_counter = itertools.count()


_given_ports: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never one this process handed out before: the kernel may
    give the same free port to two binds in a row once the first socket is closed, and two
    servers made one after the other (a federation's) then met on one port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port


@contextlib.contextmanager
def sqlite_company(tmp: Path, company: str = "a"):
    """One company's app and its context, on SQLite under ``tmp``, with strict request and
    response validation; its pool and database closed on exit."""
    from recarga.app import build_context, create_app
    from recarga.config import Config

    config = Config(
        company=company,
        admin_token="x" * 16,
        database_url=f"sqlite:///{tmp / f'{company}.db'}",
        validate_responses=True,
    )
    ctx = build_context(config)
    try:
        yield create_app(config, ctx), ctx
    finally:
        ctx.pool.shutdown()
        ctx.store.close()


def _pg_admin():
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    return conn


def create_pg_database(prefix: str = "recarga_test") -> str:
    """A throwaway database; returns its URL. Drop it with ``drop_pg_database``."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with contextlib.closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with contextlib.closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


class ServerProcess:
    """``recarga serve`` in a child process, configured only by environment variables."""

    def __init__(
        self,
        company: str,
        database_url: str,
        admin_token: str = "admin-token-x",
        port: int | None = None,
        log_dir: Path | None = None,
        **extra_env: str,
    ):
        self.company = company
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"
        self.admin_token = admin_token
        self.env = {
            **os.environ,
            "RECARGA_COMPANY": company,
            "RECARGA_PORT": str(self.port),
            "RECARGA_HOST": "127.0.0.1",
            "RECARGA_PUBLIC_URL": self.url,
            "RECARGA_DATABASE_URL": database_url,
            "RECARGA_ADMIN_TOKEN": admin_token,
            "RECARGA_MQTT_URL": "",
            "RECARGA_VALIDATE_RESPONSES": "1",
            **extra_env,
        }
        self.log_path = (log_dir or Path("/tmp")) / f"recarga-{company}-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "recarga.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def start(self, timeout: float = 30) -> ServerProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recarga.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.company} exited: {self.log_tail()}")
            try:
                health = httpx.get(f"{self.api}/health", timeout=1)
            except httpx.HTTPError:
                pass
            else:
                # up when this company answers: another server on the port is not this one
                if health.status_code == 200 and health.json()["company"] == self.company:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"server {self.company} did not answer in {timeout}s: {self.log_tail()}")

    def wait_bridge(self, timeout: float = 20) -> ServerProcess:
        """Until its MQTT bridge reports itself connected to the broker."""
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.api}/health").json()["mqtt"] != "connected":
            assert time.monotonic() < deadline, f"the bridge never connected: {self.log_tail()}"
            time.sleep(0.1)
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def admin(self) -> dict:
        return {"Authorization": f"Bearer {self.admin_token}"}
