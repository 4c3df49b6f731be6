"""Cars as numpy arrays: models, driving profiles and a stochastic discharge, stepped together.

Consumption per km of car *i* at step *t* is

    c_i(t) = c_model_i · f_profile_i · (v_i(t) / v_ref)^0.6 ... clipped, · (1 + ε_i(t))

(the profiles and the speed term are planning.profiles, which the planner also uses)

where ε is an AR(1) process (persistence 0.9, σ 6 %) — traffic, wind and slopes come and go in
stretches, not independently per minute — and speed follows the profile with its own noise.
Eco drivers are slow and frugal, aggressive ones fast and thirsty, highway drivers steady and
fast. Every update is one vectorised operation over the whole fleet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mqtt.accounts import simulated_cars
from planning.profiles import PROFILES, speed_factor

MIX = list(PROFILES)
PLAN_MARGIN = 1.10  # cars plan with a consumption 10 % above their profile's mean


@dataclass
class Fleet:
    ids: list[str]
    model_ids: list[str]
    profile: list[str]
    battery_kwh: np.ndarray
    base_kwh_per_km: np.ndarray
    factor: np.ndarray
    cruise_kmh: np.ndarray
    soc: np.ndarray
    noise: np.ndarray
    rng: np.random.Generator

    @classmethod
    def draw(cls, n: int, vehicles: dict, rng: np.random.Generator, profile: str = "mix") -> Fleet:
        models = list(vehicles.values())
        picks = rng.integers(0, len(models), n)
        names = (
            [MIX[k] for k in rng.integers(0, len(MIX), n)] if profile == "mix" else [profile] * n
        )
        factor = np.array([PROFILES[p].factor for p in names])
        cruise = np.array([PROFILES[p].cruise_kmh for p in names])
        return cls(
            ids=simulated_cars(n),  # the broker's accounts for simulated cars
            model_ids=[models[k].id for k in picks],
            profile=names,
            battery_kwh=np.array([models[k].battery_kwh for k in picks], dtype=float),
            base_kwh_per_km=np.array([models[k].consumption_kwh_per_km for k in picks]),
            factor=factor,
            cruise_kmh=cruise,
            soc=rng.uniform(0.55, 0.95, n),
            noise=np.zeros(n),
            rng=rng,
        )

    def mean_consumption(self) -> np.ndarray:
        """kWh/km at cruising speed, noise averaged out."""
        return self.base_kwh_per_km * self.factor * speed_factor(self.cruise_kmh)

    def planning_consumption(self) -> np.ndarray:
        """What each car tells the planner: its mean consumption plus a margin."""
        return self.mean_consumption() * PLAN_MARGIN

    def drive(self, moving: np.ndarray, minutes: float) -> tuple[np.ndarray, np.ndarray]:
        """Advance every moving car by ``minutes``. Returns (km driven, speed km/h) per car."""
        n = len(self.ids)
        self.noise = 0.9 * self.noise + self.rng.normal(0.0, 0.06 * np.sqrt(1 - 0.81), n)
        speed = np.clip(self.cruise_kmh * (1 + self.rng.normal(0, 0.05, n)), 30, 130) * moving
        km = speed * minutes / 60.0
        per_km = self.base_kwh_per_km * self.factor * speed_factor(speed) * (1 + self.noise)
        self.soc = self.soc - km * per_km / self.battery_kwh
        return km, speed
