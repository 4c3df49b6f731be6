"""Every peer's static catalog (stations, connectors, power, price, place), kept here.

A plan then asks each peer only for what changes often — which of the corridor's stations are
busy when, or not available (``POST /availability``) — instead of pulling its whole station
list with free windows. Each peer's copy follows its change feed (``GET /catalog?since=N``,
versions committed in order, so "everything after N" is exact); a peer tells its peers when its
catalog changed (``POST /catalog/notify``), and a periodic reconciliation (the whole catalog,
``If-None-Match`` → 304 when nothing changed) catches what a lost notification missed. The copy
lives in memory: a restarted server takes one full catalog per peer, which is cheap.

A plan built on a stale copy is safe: the booking's prepare at the peer is the authority and
refuses a connector that no longer exists, with alternatives (docs/planning.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from booking.model import utcnow
from booking.times import iso
from federation import PeerError
from service.company.context import Context

log = logging.getLogger(__name__)

T = TypeVar("T")
RECONCILE_EVERY = 6  # every sixth round asks for the whole catalog (304 when unchanged)


@dataclass
class PeerCatalog:
    """One peer's catalog as last synchronised: station id -> its JSON (no free windows)."""

    company: str
    version: int | None = None  # None: never synchronised
    stations: dict[str, dict] = field(default_factory=dict)
    by_place: dict[str, list[dict]] = field(default_factory=dict)
    station_of: dict[str, str] = field(default_factory=dict)  # connector id -> station id
    ordered: list[dict] = field(default_factory=list)  # every station, by id: one per version
    synced_at: datetime | None = None
    error: str | None = None

    def apply(self, version: int, stations: list[dict], removed: list[str], full: bool) -> None:
        """Build the new copy aside and swap it in at once: plans read it meanwhile."""
        new = {} if full else dict(self.stations)
        for sid in removed:
            new.pop(sid, None)
        for item in stations:
            new[item["id"]] = item
        ordered = [new[sid] for sid in sorted(new)]
        by_place: dict[str, list[dict]] = {}
        station_of: dict[str, str] = {}
        for item in ordered:
            by_place.setdefault(item["place_id"], []).append(item)
            for c in item["connectors"]:
                station_of[c["id"]] = item["id"]
        self.station_of, self.ordered = station_of, ordered
        self.stations, self.by_place, self.version = new, by_place, version

    def at_places(self, places: set[str] | None) -> list[dict]:
        by_place = self.by_place  # one snapshot
        if places is None:
            return [item for items in by_place.values() for item in items]
        return [item for p in places for item in by_place.get(p, [])]

    def view(self) -> dict:
        """The copy's state as answers show it (times as RFC 3339 with Z)."""
        age = (utcnow() - self.synced_at).total_seconds() if self.synced_at else None
        return {
            "version": self.version,
            "stations": len(self.stations),
            "synced_at": iso(self.synced_at),
            "age_seconds": None if age is None else round(age, 1),
            "state": (
                "never synchronised"
                if self.version is None
                else "failing"
                if self.error
                else "synchronised"
            ),
            "last_error": self.error,
        }


class PeerCatalogs:
    """The peers' catalogs of one server, and the worker that keeps them current."""

    def __init__(self, interval: float = 30.0):
        self.interval = interval
        self._catalogs: dict[str, PeerCatalog] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._nudged: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.own: tuple[int, list[dict]] | None = None  # this company's catalog, by version
        # what plans derive from one company's catalog (service.catalogs.trips' offers), built once per
        # catalog version and shared by every plan: name -> (catalog, key, value)
        self._memo: dict[tuple, tuple[object, tuple, Any]] = {}

    # -- reading -----------------------------------------------------------------------------

    def catalog(self, company: str) -> PeerCatalog:
        with self._guard:
            return self._catalogs.setdefault(company, PeerCatalog(company))

    def memo(self, name: tuple, catalog: object, key: tuple, build: Callable[[], T]) -> T:
        """What ``build`` derives from ``catalog`` (a company's station list, one object per
        version) and ``key``, kept while both stay the same. Built outside the lock: two plans
        may build it at once, the last one kept."""
        with self._guard:
            cached = self._memo.get(name)
        if cached is not None and cached[0] is catalog and cached[1] == key:
            return cached[2]
        value = build()
        with self._guard:
            self._memo[name] = (catalog, key, value)
        return value

    def ready(self, ctx: Context, company: str) -> PeerCatalog:
        """The peer's catalog, synchronised now if it never was (a plan right after start)."""
        cat = self.catalog(company)
        if cat.version is None:
            self.sync(ctx, company)
        return cat

    # -- synchronising -----------------------------------------------------------------------

    def sync(self, ctx: Context, company: str, full: bool = False) -> bool:
        """Catch up with one peer; True when the copy is current. Failures are recorded on
        the copy (``GET /peers`` shows them) and the copy is kept as it was."""
        with self._guard:
            lock = self._locks.setdefault(company, threading.Lock())
        with lock:
            cat = self.catalog(company)
            since = None if full or cat.version is None else cat.version
            try:
                answer = ctx.gateway.catalog(
                    ctx, company, since=since, if_none_match=cat.version if full else None
                )
            except PeerError as exc:
                cat.error = str(exc)
                log.info("catalog of %s not synchronised: %s", company, exc)
                return False
            if answer is not None:  # None: 304, nothing changed
                cat.apply(
                    answer["version"], answer["stations"], answer["removed"], full=since is None
                )
            cat.synced_at, cat.error = utcnow(), None
            return True

    def nudge(self, company: str) -> None:
        """A peer said its catalog changed: catch up with it now (in the worker)."""
        with self._guard:
            self._nudged.add(company)
        self._wake.set()

    def forget(self, company: str) -> None:
        with self._guard:
            self._catalogs.pop(company, None)

    def start(self, ctx: Context) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(ctx,), name="peer-catalogs", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self, ctx: Context) -> None:
        rounds = 0
        next_round = 0.0
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_round - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._guard:
                nudged, self._nudged = self._nudged, set()
            try:
                peers = [c for c in ctx.peers() if c != ctx.company]
                if time.monotonic() >= next_round:
                    rounds += 1
                    for company in peers:
                        self.sync(ctx, company, full=rounds % RECONCILE_EVERY == 0)
                    next_round = time.monotonic() + self.interval
                else:
                    for company in sorted(nudged & set(peers)):
                        ctx.faults.hit("catalog_sync", company)  # tests: a copy left behind
                        self.sync(ctx, company)
            except Exception:  # a bad round must not end the worker
                log.exception("catalog synchronisation round failed")


def notify_peers(ctx: Context) -> None:
    """This company's catalog changed: tell every peer, from the peer pool (best effort; the
    periodic reconciliation covers a peer that does not hear it)."""
    for company in ctx.peers():
        if company != ctx.company:
            ctx.pool.submit(_notify, ctx, company)


def _notify(ctx: Context, company: str) -> None:
    try:
        ctx.gateway.notify_catalog(ctx, company)
    except PeerError as exc:
        log.info("could not tell %s that the catalog changed: %s", company, exc)
