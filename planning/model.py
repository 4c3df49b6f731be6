"""The planner's inputs and outputs, in plain data."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime

#: Minutes to park, plug in and unplug at every stop; also keeps stops from being free.
STOP_OVERHEAD_MIN = 5.0
#: Average road speed used for drive times.
SPEED_KMH = 80.0


@dataclass(frozen=True)
class Car:
    battery_kwh: float
    consumption_kwh_per_km: float
    max_charge_kw: float
    max_ac_kw: float = 11.0

    def soc_per_km(self) -> float:
        return self.consumption_kwh_per_km / self.battery_kwh


@dataclass
class ChargerConnector:
    connector_id: str
    power_kw: float
    price_per_kwh: float
    standard: str = "CCS2"
    #: free windows as (start, end) pairs in minutes after departure, sorted, non-overlapping
    free: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Charger:
    """A station as the planner sees it."""

    station_id: str
    company: str
    place_id: str
    connectors: list[ChargerConnector]

    @functools.cached_property
    def summary(self) -> tuple[float, float, float]:
        """(best DC kW, best AC kW, cheapest R$/kWh) of its connectors, computed once."""
        from planning.charging import AC_STANDARDS

        dc = max(
            (c.power_kw for c in self.connectors if c.standard not in AC_STANDARDS), default=0.0
        )
        ac = max((c.power_kw for c in self.connectors if c.standard in AC_STANDARDS), default=0.0)
        return dc, ac, min((c.price_per_kwh for c in self.connectors), default=math.inf)


@dataclass(frozen=True)
class TripRequest:
    origin: str
    destination: str
    departure: datetime
    car: Car
    soc: float
    reserve_soc: float = 0.10
    arrival_soc: float | None = None
    options: int = 3
    avoid_companies: frozenset[str] = frozenset()
    speed_kmh: float = SPEED_KMH
    stop_overhead_min: float = STOP_OVERHEAD_MIN

    @property
    def final_soc(self) -> float:
        return (
            self.reserve_soc
            if self.arrival_soc is None
            else max(self.arrival_soc, self.reserve_soc)
        )


@dataclass
class Stop:
    station_id: str
    company: str
    place_id: str
    connector_id: str
    power_kw: float
    arrival_min: float
    soc_arrival: float
    soc_target: float
    wait_min: float
    charge_min: float
    start_min: float  # the reserved window starts here (plug-in)
    end_min: float  # and ends here (departure)
    energy_kwh: float
    cost: float
    km_from_previous: float


@dataclass
class Option:
    label: str
    stops: list[Stop]
    route: list[str]
    distance_km: float
    drive_min: float
    charge_min: float
    wait_min: float
    total_min: float
    cost: float
    soc_arrival: float

    def signature(self) -> tuple[tuple[str, str], ...]:
        return tuple((s.station_id, s.connector_id) for s in self.stops)


@dataclass
class PlanResult:
    options: list[Option]
    infeasible: str | None = None
