"""The composition root of ``recarga serve``: build a company server's parts, run them, and stop
them in order on SIGTERM or SIGINT (``docker stop``, systemd, Ctrl-C alike).

Stopping: the listening socket closes at once (no new requests), requests in flight get up to
``DRAIN_SECONDS`` to finish and send their answers, then the recovery worker, the MQTT session
(a clean disconnect) and the database pool are closed, and the process exits 0. A booking cut
short by the bound is finished from the coordinator's log by recovery after the restart, all or
nothing, like after a crash.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import waitress
from waitress import wasyncore

from federation.client import Transport
from mqtt.bridge import Bridge
from recarga.app import build_context, create_app
from recarga.config import Config
from recarga.wsgi import ThreadLoopWSGI
from service.company import coherence, peers
from service.company.processes import Presence
from service.protocol.recovery import Recovery, idle_after
from storage.election import Election

log = logging.getLogger("recarga")

DRAIN_SECONDS = 2.0  # in-flight requests may finish within this after a stop signal


CONNECTION_LIMIT = 1000
# The cyclic garbage collector, as Python sets it (a pass every 700 new objects), walked this
# server's long-lived objects (the copies of the peers' catalogs, the planner's shared
# chargers) again and again: a fifth of a plan's CPU at 15,000 stations. Collect less often.
GC_THRESHOLDS = (50_000, 50, 100)


class Company:
    """One company as a value: its context (its database, its client to its peers), its app,
    and the workers that keep it right (presence and leases, recovery, the copies of its
    peers' catalogs, news from its other processes, the MQTT bridge). A process serves one
    (``CompanyServer``); the integration tests run several side by side in one process, each
    reaching the others through ``transport`` (its peer client's way to other companies)."""

    def __init__(self, config: Config, transport: Transport | None = None):
        self.config = config
        self.bridge = (
            Bridge(config.company, config.mqtt_url, replica=config.replica)
            if config.mqtt_url
            else None
        )
        # the service context, told how to push to cars (the bridge's, or nothing without MQTT)
        adapters: dict[str, Callable[..., Any]] = (
            {
                "notify": self.bridge.notify,
                "mqtt_status": self.bridge.status,
                "stations_changed": self.bridge.stations_changed,
            }
            if self.bridge
            else {}
        )
        self.ctx = build_context(config, store=None, transport=transport, **adapters)
        self.app = create_app(config, self.ctx)
        # one of possibly several processes of the company on one database: registered, with
        # leases on its transactions, and the recovery worker elected among them
        self.presence = Presence(self.ctx, config.replica, idle_after(self.ctx))
        self.recovery = Recovery(self.ctx, Election(config.database_url))
        # each worker thread that serves it runs the app on its own event loop, handlers inline
        self.wsgi = ThreadLoopWSGI(self.app)
        self.stopping = threading.Event()

    def start(self) -> Company:
        self.wsgi.startup()  # connexion builds its middleware stack once, before any request
        coherence.listen(self.ctx)
        self.ctx.store.changes.start()
        self.presence.start()
        self.recovery.start()
        self.ctx.catalogs.start(self.ctx)
        if self.bridge is not None:
            self.bridge.start(self.ctx)
        if self.config.peers:
            threading.Thread(
                target=peers.register_at_start,
                args=(self.ctx, list(self.config.peers), self.stopping),
                name="peer-registration",
                daemon=True,
            ).start()
        return self

    def close(self) -> None:
        """Stop the workers and release the database (no request is served any more)."""
        self.stopping.set()
        self.wsgi.shutdown()
        self.recovery.stop()
        self.presence.stop()
        self.ctx.catalogs.stop()
        if self.bridge is not None:
            self.bridge.stop()
        self.ctx.pool.shutdown(wait=False, cancel_futures=True)
        self.ctx.client.close()
        self.ctx.store.close()


class CompanyServer:
    """A company served over HTTP by waitress: what ``recarga serve`` runs."""

    def __init__(self, config: Config):
        gc.set_threshold(*GC_THRESHOLDS)
        self.config = config
        self.company = Company(config)
        self.ctx = self.company.ctx
        self.http = waitress.create_server(
            self.company.wsgi,
            host=config.host,
            port=config.port,
            threads=config.threads,
            ident="recarga",
            channel_timeout=60,
            # waitress stops accepting at 100 open connections (its default) and keep-alive
            # clients hold theirs: the 101st client would hang until one left (measured: 60 s
            # timeouts under an open-loop load). Requests beyond the threads queue instead.
            connection_limit=CONNECTION_LIMIT,
        )

    def start(self) -> CompanyServer:
        self.company.start()
        log.info(
            "company %s serving on %s:%d (public URL %s); Swagger UI at %s/api/v1/ui/",
            self.config.company,
            self.config.host,
            self.config.port,
            self.config.public_url,
            self.config.public_url,
        )
        return self

    def stop_on_signals(self) -> CompanyServer:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.request_stop())
        return self

    def request_stop(self) -> None:
        self.company.stopping.set()
        self.http.pull_trigger()  # wake the network loop now

    def serve(self) -> None:
        """Run until asked to stop, then drain and close everything."""
        # waitress has no public "stop": drive its network loop here, one poll at a time
        socket_map = self.http._map
        while not self.company.stopping.is_set():
            wasyncore.loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
        log.info(
            "stopping: no new requests; %d in flight get up to %.0f s",
            self.http.task_dispatcher.active_count,
            DRAIN_SECONDS,
        )
        self.http.del_channel()
        self.http.socket.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        dispatcher = self.http.task_dispatcher
        while time.monotonic() < deadline and (
            dispatcher.active_count or dispatcher.queue or _unsent(socket_map)
        ):
            wasyncore.loop(timeout=0.05, map=socket_map, use_poll=True, count=1)
        dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
        wasyncore.close_all(socket_map)
        self.close()

    def close(self) -> None:
        self.company.close()
        log.info("company %s stopped", self.config.company)


def _unsent(socket_map: dict) -> bool:
    """Whether some connection still has an answer to send."""
    return any(getattr(channel, "total_outbufs_len", 0) for channel in list(socket_map.values()))
