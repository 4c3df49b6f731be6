"""Loads the versioned reference data file shipped with every server."""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path

from network.distances import RoadDistances
from network.graph import Network, Place, Road
from network.vehicles import VehicleModel

DATA_FILE = Path(__file__).with_name("data") / "northeast.json"


class Reference:
    """The network, the vehicle catalogue and the sources they come from."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.version: str = raw["version"]
        self.sources: list[str] = raw["sources"]
        self.network = Network(
            version=self.version,
            places={p["id"]: Place(**p) for p in raw["places"]},
            roads=[Road(**r) for r in raw["roads"]],
        )
        self.vehicles = {v["id"]: VehicleModel(**v) for v in raw["vehicles"]}

    @cached_property
    def distances(self) -> RoadDistances:
        """Road distances over this network, computed on demand and kept (it never changes)."""
        return RoadDistances(self.network)


@lru_cache(maxsize=1)
def load_reference(path: str | None = None) -> Reference:
    with open(path or DATA_FILE, encoding="utf-8") as fh:
        return Reference(json.load(fh))
