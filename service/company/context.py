"""Everything a use case needs about the company it runs for."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from booking.clock import Clock, RealClock
from federation import PeerClient
from network.reference import Reference
from service.company.faults import Faults
from service.company.ports import CatalogCopies, Peers, PhaseTwo, Unwired
from storage import Store


@dataclass(frozen=True)
class Timing:
    """How long the protocol waits (seconds); tests shorten them."""

    prepare_timeout: float = 5.0  # a participant silent this long makes the booking abort
    hold_seconds: int = 120  # hold mode: how long held legs wait for replacements
    in_doubt_seconds: float = 86400.0  # a participant decides alone only after this long
    recovery_interval: float = 2.0  # how often the recovery worker looks at open work
    peer_timeout: float = 3.0  # planning, alternatives, status questions
    catalog_sync: float = 30.0  # how often peers' catalogs are reconciled (changes are pushed)


class LiveWork:
    """Transactions that a request (or its background send) of this process is working on.

    The recovery worker keeps off them: it finishes only what is idle or was left by a
    previous process, so it never races the request that is still finishing a transaction.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[str, int] = {}

    def enter(self, tx_id: str) -> None:
        with self._lock:
            self._count[tx_id] = self._count.get(tx_id, 0) + 1

    def leave(self, tx_id: str) -> None:
        with self._lock:
            left = self._count.get(tx_id, 0) - 1
            if left > 0:
                self._count[tx_id] = left
            else:
                self._count.pop(tx_id, None)

    @contextlib.contextmanager
    def working(self, tx_id: str) -> Iterator[None]:
        self.enter(tx_id)
        try:
            yield
        finally:
            self.leave(tx_id)

    def __contains__(self, tx_id: object) -> bool:
        with self._lock:
            return tx_id in self._count

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._count)


@dataclass
class Context:
    company: str
    store: Store
    reference: Reference
    public_url: str = ""
    admin_token: str = ""
    registration_token: str = ""
    version: str = "0"
    timing: Timing = field(default_factory=Timing)
    # the world's time (departures, windows, sessions, the console's "now"): real time, or
    # the demo's faster clock; the protocol's timers always run on real time (booking.clock)
    clock: Clock = field(default_factory=RealClock)
    faults: Faults = field(default_factory=Faults)
    client: PeerClient = field(default_factory=PeerClient)
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=32, thread_name_prefix="peer")
    )
    mqtt_status: Callable[[], str] = field(default=lambda: "disabled")
    # (company whose topic tree the car uses, car id, event): pushes to cars; set by the MQTT
    # bridge, a no-op without one
    notify: Callable[[str, str | None, dict], None] = field(
        default=lambda company, car, event: None
    )
    # stations whose schedule changed (a window confirmed, started, ended, cancelled): the
    # MQTT bridge publishes each one's schedule again; a no-op without one
    stations_changed: Callable[[set[str]], None] = field(default=lambda stations: None)
    live: LiveWork = field(default_factory=LiveWork)
    # the ports (service.company.ports), filled by the composition root (recarga.app.wire): how the
    # roles reach any company, this one included; phase two after the answer; the peers'
    # catalogs as copied here
    gateway: Peers = field(default_factory=lambda: cast(Peers, Unwired("gateway")))
    outbox: PhaseTwo = field(default_factory=lambda: cast(PhaseTwo, Unwired("outbox")))
    catalogs: CatalogCopies = field(
        default_factory=lambda: cast(CatalogCopies, Unwired("catalogs"))
    )
    # the console's read views shared by every console polling (service.monitor)
    views: dict[str, Any] = field(default_factory=dict)
    # the recovery worker's last sweep: when, how long, what failed (service.protocol.recovery)
    sweeps: dict[str, Any] = field(default_factory=dict)
    # token sha256 -> (caller, expiry); forgotten when any credential changes (coherence)
    driver_tokens: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
    _peers: dict = field(default_factory=dict)
    _peers_at: float = 0.0
    _peers_lock: threading.Lock = field(default_factory=threading.Lock)

    def peers(self, refresh: bool = False) -> dict[str, dict]:
        """Registered peers by company (url, token_out), cached for a few seconds."""
        with self._peers_lock:
            if refresh or time.monotonic() - self._peers_at > 5.0:
                with self.store.connection():
                    self._peers = {p["company"]: p for p in self.store.list_peers()}
                self._peers_at = time.monotonic()
            return dict(self._peers)
