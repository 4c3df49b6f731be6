"""Three (or more) companies, each on its own throwaway PostgreSQL database: real server
processes, or (``in_process=True``) companies in this process reached without sockets
(``tests.inprocess``), for the protocol tests that need no ``kill -9`` and no real network."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2
import psycopg2.extras

from tests.inprocess import InProcessCompany, Network
from tests.support import ServerProcess, create_pg_database, drop_pg_database

REGISTRATION = "federation-secret-for-tests"
T0 = (datetime.now(UTC) + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
BR101 = {
    "a": ["goiana", "recife", "palmares"],
    "b": ["maceio", "sao-miguel-dos-campos", "propria"],
    "c": ["aracaju", "estancia", "esplanada", "alagoinhas"],
}


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class Federation:
    def __init__(
        self,
        tmp: Path,
        companies=("a", "b", "c"),
        faults: dict | None = None,
        in_process: bool = False,
        **env: str,
    ):
        self.tmp = tmp
        self.fault_dir = tmp / "faults"
        self.fault_dir.mkdir(parents=True, exist_ok=True)
        self.db_urls = {c: create_pg_database(f"recarga_{c}") for c in companies}
        base_env = {
            "RECARGA_REGISTRATION_TOKEN": REGISTRATION,
            "RECARGA_PREPARE_TIMEOUT": "2",
            "RECARGA_RECOVERY_INTERVAL": "0.3",
            "RECARGA_TEST_FAULT_DIR": str(self.fault_dir),
            **env,
        }
        self.in_process = in_process
        self.servers: dict[str, ServerProcess | InProcessCompany]
        if in_process:
            network = Network()
            self.servers = {
                c: InProcessCompany(
                    network,
                    c,
                    self.db_urls[c],
                    RECARGA_TEST_FAULTS=(faults or {}).get(c, ""),
                    **base_env,
                )
                for c in companies
            }
            self.http = network.client(timeout=30)
        else:
            self.servers = {
                c: ServerProcess(
                    c,
                    self.db_urls[c],
                    log_dir=tmp,
                    RECARGA_TEST_FAULTS=(faults or {}).get(c, ""),
                    **base_env,
                )
                for c in companies
            }
            self.http = httpx.Client(timeout=30)

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> Federation:
        for server in self.servers.values():
            server.start()
        names = list(self.servers)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                r = self.http.post(
                    f"{self.servers[a].api}/peers",
                    headers=self.servers[a].admin,
                    json={"url": self.servers[b].url},
                )
                assert r.status_code == 201, r.text
        self.driver = {c: self.issue_driver(c) for c in names}
        return self

    def issue_driver(self, company: str, name: str = "test driver") -> dict:
        """Headers carrying a new driver credential of ``company``."""
        r = self.http.post(
            f"{self.api(company)}/drivers", headers=self.servers[company].admin, json={"name": name}
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def close(self) -> None:
        for company in self.servers:
            self.down(company)
        self.http.close()
        for url in self.db_urls.values():
            drop_pg_database(url)

    def down(self, company: str) -> None:
        """``company`` stops answering: a real process is killed (``kill -9``); one in this
        process leaves the network (its host refuses connections) and stops."""
        server = self.servers[company]
        if isinstance(server, InProcessCompany):
            server.stop()
        else:
            server.kill()

    def restart(self, company: str, faults: str = "") -> None:
        """``company`` down, then up again on its database with ``faults`` armed."""
        self.down(company)
        self.servers[company].env["RECARGA_TEST_FAULTS"] = faults
        self.servers[company].start()

    def api(self, company: str) -> str:
        return self.servers[company].api

    def peer(self, holder: str, company: str) -> dict:
        """``company`` as ``holder`` lists it in ``GET /peers`` (reachability, catalog copy,
        traffic)."""
        r = self.http.get(f"{self.api(holder)}/peers", headers=self.servers[holder].admin)
        assert r.status_code == 200, r.text
        return next(p for p in r.json()["items"] if p["company"] == company)

    # -- fault points --------------------------------------------------------------------------

    def wait_reached(self, name: str, timeout: float = 30) -> None:
        marker = self.fault_dir / f"{name}.reached"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert time.monotonic() < deadline, f"fault point {name} never reached"
            time.sleep(0.02)

    def release(self, name: str) -> None:
        (self.fault_dir / f"{name}.release").touch()

    # -- data ----------------------------------------------------------------------------------

    def plan(self, company: str, body: dict, timeout: float = 30) -> httpx.Response:
        """``POST /plans`` at ``company`` as its test driver."""
        return self._as_driver(company, "plans", body, timeout)

    def book(self, company: str, body: dict, timeout: float = 30) -> httpx.Response:
        """``POST /bookings`` at ``company`` as its test driver."""
        return self._as_driver(company, "bookings", body, timeout)

    def _as_driver(self, company: str, path: str, body: dict, timeout: float) -> httpx.Response:
        return self.http.post(
            f"{self.api(company)}/{path}", headers=self.driver[company], timeout=timeout, json=body
        )

    def add_station(
        self, company: str, place: str, power_kw: float = 150.0, connectors: int = 1
    ) -> dict:
        r = self.http.post(
            f"{self.api(company)}/stations",
            headers=self.servers[company].admin,
            json={
                "place_id": place,
                "connectors": [{"power_kw": power_kw, "price_per_kwh": 2.0}] * connectors,
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    def rows(self, company: str, sql: str, *args) -> list[dict]:
        with (
            contextlib.closing(psycopg2.connect(self.db_urls[company])) as conn,
            conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
        ):
            cur.execute(sql, args)
            return [dict(r) for r in cur.fetchall()]

    def reservations(
        self, company: str, booking_id: str | None = None, active: bool = False
    ) -> list[dict]:
        sql = "SELECT * FROM reservation WHERE true"
        args: list = []
        if booking_id:
            sql += " AND booking_id = %s"
            args.append(booking_id)
        if active:
            sql += " AND state IN ('held', 'confirmed', 'charging')"
        return self.rows(company, sql + " ORDER BY leg_index", *args)

    def overlaps(self, company: str) -> list[dict]:
        return self.rows(
            company,
            """
            SELECT a.id, b.id AS other FROM reservation a JOIN reservation b
              ON a.connector_id = b.connector_id AND a.id < b.id
             WHERE a.state IN ('held', 'confirmed', 'charging')
               AND b.state IN ('held', 'confirmed', 'charging')
               AND a.start_at < b.end_at AND b.start_at < a.end_at""",
        )

    def phase_two_done(
        self, coordinator: str, booking_id: str | None = None, timeout: float = 30
    ) -> None:
        """Wait until ``coordinator``'s log has every company's acknowledgement of its decisions
        (of ``booking_id``, or of all): phase two goes out after the client's answer."""
        sql = "SELECT count(*) AS n FROM coordinator_tx WHERE open AND state <> 'held'"
        args: tuple = ()
        if booking_id:
            sql += " AND booking_id = %s"
            args = (booking_id,)
        self.eventually(
            lambda: self.rows(coordinator, sql, *args)[0]["n"] == 0,
            timeout,
            what=f"phase two of {booking_id or 'every decision'} at {coordinator}",
        )

    def eventually(self, check, timeout: float = 30, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)


def leg(station: dict, start_min: float, end_min: float, connector: int = 0) -> dict:
    return {
        "company": station["company"],
        "station_id": station["id"],
        "connector_id": station["connectors"][connector]["id"],
        "start": at(start_min),
        "end": at(end_min),
    }
