"""Driving profiles: how a way of driving changes a car's consumption and its cruising speed.

One definition serves the planner (a driver may give a profile instead of a measured
consumption) and the simulator (whose cars drive by these profiles, with noise around them).
Consumption at cruising speed ``v`` is the model's rated kWh/km × the profile's factor ×
(v / 88 km/h)^0.6, the speed term clipped to [0.8, 1.25] (air drag grows with speed; at town
speeds other losses dominate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

V_REF_KMH = 88.0  # the speed at which a model's rated consumption holds


@dataclass(frozen=True)
class Profile:
    factor: float  # consumption relative to the model's rating, at the same speed
    cruise_kmh: float


PROFILES = {
    "eco": Profile(0.88, 78.0),
    "normal": Profile(1.00, 88.0),
    "aggressive": Profile(1.16, 104.0),
    "highway": Profile(1.07, 98.0),
}


def speed_factor(speed_kmh: ArrayLike) -> np.ndarray:
    """Consumption relative to the rating at ``speed_kmh`` (vectorised)."""
    return np.asarray(np.clip((np.asarray(speed_kmh, dtype=float) / V_REF_KMH) ** 0.6, 0.8, 1.25))


def consumption_kwh_per_km(rated_kwh_per_km: float, profile: str) -> float:
    """Mean consumption of a car of that rating driven by ``profile`` at its cruising speed."""
    p = PROFILES[profile]
    return float(rated_kwh_per_km * p.factor * speed_factor(p.cruise_kmh))
