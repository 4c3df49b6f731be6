"""This process among its company's processes (several may share one database behind a load
balancer): registered at start, beating every second while it lives, and renewing the leases
of the transactions it works on (``storage/processes.py`` says what a lease is for)."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from service.company.context import Context

log = logging.getLogger(__name__)

BEAT = 1.0  # seconds between beats
#: a process silent this long is dead: its transactions are taken over (a restart of the same
#: replica is known at once)
DEAD_AFTER = timedelta(seconds=5)


class Presence:
    def __init__(self, ctx: Context, replica: str | None, lease: timedelta):
        self.ctx = ctx
        self.replica = replica or "main"
        self.lease = lease
        self.process_id = f"{self.replica[:20]}-{uuid.uuid4().hex[:16]}"
        self._stop = threading.Event()

    def start(self) -> Presence:
        self.ctx.store.register_process(self.process_id, self.replica, self.lease)
        threading.Thread(target=self._loop, name="presence", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(BEAT):
            try:
                self.ctx.store.beat(self.ctx.live.ids())
            except Exception as exc:  # a database hiccup costs one beat, not the process
                log.warning("process beat failed: %s", exc)
