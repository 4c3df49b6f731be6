"""A physical charging model: constant power up to 80 % state of charge, then a linear taper.

Power at state of charge ``s`` with peak power ``P`` (the lower of the connector's and the car's):

* ``s ≤ 0.8``:  p(s) = P
* ``s > 0.8``:  p(s) = P · (1 − 3.75 · (s − 0.8)), falling linearly to 0.25 · P at 100 %

Time to go from ``s1`` to ``s2`` is ∫ B / p(s) ds (B the battery in kWh), in closed form below.
Energy billed is the energy stored divided by ``EFFICIENCY`` (losses in the charger and cables).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

TAPER_START = 0.8
TAPER_SLOPE = 3.75  # 1 - 3.75 * 0.2 = 0.25 of peak power at 100 %
EFFICIENCY = 0.92
AC_STANDARDS = frozenset({"Type2"})


def effective_power_kw(
    connector_kw: float, standard: str, car_dc_kw: float, car_ac_kw: float
) -> float:
    """AC connectors charge through the car's on-board charger, DC ones up to the car's DC limit."""
    car = car_ac_kw if standard in AC_STANDARDS else car_dc_kw
    return float(min(connector_kw, car))


def _minutes_to(soc: ArrayLike, battery_kwh: float, power_kw: ArrayLike) -> np.ndarray:
    """Minutes to charge from empty to ``soc`` (vectorised), the antiderivative of B / p(s)."""
    soc = np.asarray(soc, dtype=float)
    flat = np.minimum(soc, TAPER_START)
    over = np.clip(soc - TAPER_START, 0.0, 1.0 - TAPER_START)
    taper = -np.log1p(-TAPER_SLOPE * over) / TAPER_SLOPE
    return np.asarray((flat + taper) * battery_kwh / power_kw * 60.0)  # 0-d for a scalar


def charge_minutes(
    soc_from: ArrayLike, soc_to: ArrayLike, battery_kwh: float, power_kw: ArrayLike
) -> np.ndarray:
    """Minutes to charge from ``soc_from`` to ``soc_to`` (zero when already there)."""
    soc_to = np.maximum(soc_to, soc_from)
    return np.asarray(
        _minutes_to(soc_to, battery_kwh, power_kw) - _minutes_to(soc_from, battery_kwh, power_kw)
    )


def billed_kwh(soc_from: float, soc_to: float, battery_kwh: float) -> float:
    return max(0.0, soc_to - soc_from) * battery_kwh / EFFICIENCY
