"""Road distances between places, computed in C by scipy's Dijkstra over a sparse graph."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from network.graph import Network


class RoadDistances:
    """Shortest road distances (km) between places of one network."""

    def __init__(self, network: Network):
        self.network = network
        self.ids = list(network.places)
        self.index = {pid: i for i, pid in enumerate(self.ids)}
        n = len(self.ids)
        rows, cols, km = [], [], []
        for road in network.roads:
            a, b = self.index[road.a], self.index[road.b]
            rows += [a, b]
            cols += [b, a]
            km += [road.km, road.km]
        # parallel roads between two places: keep the shortest
        best: dict[tuple[int, int], float] = {}
        for a, b, d in zip(rows, cols, km, strict=True):
            best[(a, b)] = min(d, best.get((a, b), np.inf))
        keys = list(best)
        self.graph = csr_matrix(
            ([best[k] for k in keys], ([k[0] for k in keys], [k[1] for k in keys])), shape=(n, n)
        )
        self._full: np.ndarray | None = None
        self._rows: _Recent[tuple[str, float], np.ndarray] = _Recent(self.ROW_CACHE)
        self._paths: _Recent[tuple[str, str, float], tuple[str, ...]] = _Recent(self.PATH_CACHE)

    ROW_CACHE = 4096  # bounded rows kept (places × ≤ 8 bytes × places: 160 MB at 5,000 places)
    PATH_CACHE = 65536  # bounded paths kept (a plan expands a few, the same legs recur)

    def row(self, source: str, limit_km: float = np.inf) -> np.ndarray:
        """Distances from one place to every place (inf beyond ``limit_km``), cached: planners
        ask for the same places again and again, and the network never changes."""
        return self._rows.get(
            (source, round(float(limit_km), 3)), lambda: self._row(source, limit_km)
        )

    def _row(self, source: str, limit_km: float) -> np.ndarray:
        row = self.from_places([source], limit_km)[0]
        row.setflags(write=False)
        return row

    def from_places(self, sources: list[str], limit_km: float = np.inf) -> np.ndarray:
        """Matrix (len(sources) × all places) of distances; beyond ``limit_km`` is inf."""
        idx = [self.index[s] for s in sources]
        if len(self.ids) <= 400:  # small networks: one all-pairs matrix, cached
            if self._full is None:
                self._full = dijkstra(self.graph, directed=False)
            out = self._full[idx]
            return np.where(out <= limit_km, out, np.inf)
        return np.atleast_2d(dijkstra(self.graph, directed=False, indices=idx, limit=limit_km))

    def between(self, a: str, b: str) -> float:
        """The road distance (km) from ``a`` to ``b``, from the cached row of ``a``."""
        return float(self.row(a)[self.index[b]])

    def corridor(
        self, origin: str, destination: str, slack_km: float = 150.0, share: float = 0.25
    ) -> list[str] | None:
        """The places a trip may stop at: those whose detour (origin → place → destination
        against the shortest road) is within max(``slack_km``, ``share`` of the trip). None
        when no road joins the two."""
        from_origin, to_destination = self.row(origin), self.row(destination)
        shortest = float(from_origin[self.index[destination]])
        if shortest == np.inf:
            return None
        bound = shortest + max(slack_km, share * shortest)
        detour = from_origin + to_destination
        return [pid for i, pid in enumerate(self.ids) if detour[i] <= bound]

    def longest_hop(self, origin: str, destination: str, stops: list[str]) -> float:
        """The range a car needs to go from ``origin`` to ``destination`` when it may charge at
        any of ``stops``: the smallest, over every sequence of stops, of its longest drive
        between two of them (a minimax path over road distances). inf when unreachable."""
        nodes = list(dict.fromkeys([origin, *stops, destination]))
        d = self.from_places(nodes)[:, [self.index[x] for x in nodes]]
        best = np.full(len(nodes), np.inf)
        best[0] = 0.0
        done = np.zeros(len(nodes), dtype=bool)
        for _ in nodes:
            u = int(np.argmin(np.where(done, np.inf, best)))
            if done[u] or best[u] == np.inf:
                break
            done[u] = True
            best = np.minimum(best, np.maximum(best[u], d[u]))
        return float(best[nodes.index(destination)])

    def path(self, source: str, target: str, limit_km: float = np.inf) -> list[str]:
        """Places along a shortest road path (empty when unreachable), cached like rows. A
        ``limit_km`` known to bound the distance keeps the search local (a planned leg is
        within the car's range)."""
        return list(
            self._paths.get(
                (source, target, round(float(limit_km), 3)),
                lambda: tuple(self._path(source, target, limit_km)),
            )
        )

    def _path(self, source: str, target: str, limit_km: float) -> list[str]:
        s, t = self.index[source], self.index[target]
        dist, pred = dijkstra(
            self.graph, directed=False, indices=s, return_predecessors=True, limit=limit_km
        )
        if not np.isfinite(dist[t]):
            return [] if np.isinf(limit_km) else self.path(source, target)
        out = [t]
        while out[-1] != s:
            out.append(pred[out[-1]])
        return [self.ids[i] for i in reversed(out)]


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """The ``size`` values last asked for, shared by threads; one is made outside the lock
    (two threads may make the same value at once: it is the same)."""

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            hit = self._values.get(key)
            if hit is not None:
                self._values.move_to_end(key)
                return hit
        value = make()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value
