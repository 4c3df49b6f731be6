"""Electric car models sold in Brazil, as the planner and simulator see them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VehicleModel:
    id: str
    name: str
    battery_kwh: float
    consumption_kwh_per_km: float
    max_charge_kw: float
    max_ac_kw: float

    @property
    def range_km(self) -> float:
        return self.battery_kwh / self.consumption_kwh_per_km
