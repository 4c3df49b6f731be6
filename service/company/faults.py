"""Test-only pause points that make races and crashes deterministic.

``RECARGA_TEST_FAULTS`` lists points, comma-separated, each optionally limited to one car:
``prepare@car-x,after_decision``. The first time a listed point is reached, the server writes
``<point>[@car].reached`` in ``RECARGA_TEST_FAULT_DIR`` and waits until the test creates
``<point>[@car].release`` (or kills the process with ``kill -9`` meanwhile). Unset, every
``hit`` is a no-op. Points: ``prepare`` and ``after_hold`` and ``commit`` (participant),
``before_decision``, ``after_decision`` and ``phase_two`` (coordinator; the last after the
client was answered, before the outbox sends the decision), ``outbox_round@<company>`` (the
outbox's sender to that company, before a round), ``prepare_round@<company>`` (the
coordinator's first round of prepares to that company, before it is sent), ``catalog_sync@<company>`` (the catalog
worker, before it catches up with a peer that said its catalog changed).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

MAX_PAUSE_SECONDS = 300


class Faults:
    def __init__(self, spec: str = "", directory: str = ""):
        self._rules: set[tuple[str, str | None]] = set()
        for item in (spec or "").split(","):
            item = item.strip()
            if item:
                point, _, car = item.partition("@")
                self._rules.add((point, car or None))
        self._dir = Path(directory) if directory else None
        self._lock = threading.Lock()

    def hit(self, point: str, car_id: str | None = None) -> None:
        if not self._rules:
            return
        with self._lock:
            rule = next((r for r in ((point, car_id), (point, None)) if r in self._rules), None)
            if rule is None:
                return
            self._rules.discard(rule)  # once per process
        name = point if rule[1] is None else f"{point}@{rule[1]}"
        log.warning("test fault point %s reached; pausing", name)
        if self._dir is None:
            time.sleep(MAX_PAUSE_SECONDS)
            return
        (self._dir / f"{name}.reached").touch()
        release = self._dir / f"{name}.release"
        deadline = time.monotonic() + MAX_PAUSE_SECONDS
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        log.warning("test fault point %s released", name)
