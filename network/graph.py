"""An undirected road graph between places, with shortest road distances."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    state: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Road:
    a: str
    b: str
    km: float
    highway: str = ""


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a 6,371 km sphere."""
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass
class Network:
    version: str
    places: dict[str, Place]
    roads: list[Road]
    _adj: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._adj = {pid: [] for pid in self.places}
        for road in self.roads:
            if road.a not in self.places or road.b not in self.places:
                raise ValueError(f"road {road.a}–{road.b} names an unknown place")
            if road.km <= 0:
                raise ValueError(f"road {road.a}–{road.b} has a non-positive length")
            self._adj[road.a].append((road.b, road.km))
            self._adj[road.b].append((road.a, road.km))

    def neighbours(self, place_id: str) -> list[tuple[str, float]]:
        return self._adj[place_id]

    def distances_from(self, source: str, limit_km: float = math.inf) -> dict[str, float]:
        """Dijkstra: shortest road distance from ``source`` to every place within ``limit_km``."""
        dist = {source: 0.0}
        heap = [(0.0, source)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist.get(u, math.inf):
                continue
            for v, km in self._adj[u]:
                nd = d + km
                if nd <= limit_km and nd < dist.get(v, math.inf):
                    dist[v] = nd
                    heapq.heappush(heap, (nd, v))
        return dist

    def route(self, source: str, target: str) -> tuple[float, list[str]]:
        """Shortest road distance and the places along it; (inf, []) when unreachable."""
        dist = {source: 0.0}
        prev: dict[str, str] = {}
        heap = [(0.0, source)]
        while heap:
            d, u = heapq.heappop(heap)
            if u == target:
                break
            if d > dist[u]:
                continue
            for v, km in self._adj[u]:
                nd = d + km
                if nd < dist.get(v, math.inf):
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        if target not in dist:
            return math.inf, []
        path = [target]
        while path[-1] != source:
            path.append(prev[path[-1]])
        return dist[target], path[::-1]

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "places": [vars(p) for p in self.places.values()],
            "roads": [vars(r) for r in self.roads],
        }
