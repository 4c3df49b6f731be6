"""The trip planner: where to stop, how long to charge, which windows to reserve (pure Python)."""

from planning.model import (
    Car,
    Charger,
    ChargerConnector,
    Option,
    PlanResult,
    Stop,
    TripRequest,
)
from planning.planner import ChargerSet, plan

__all__ = [
    "Car",
    "Charger",
    "ChargerConnector",
    "ChargerSet",
    "Option",
    "PlanResult",
    "Stop",
    "TripRequest",
    "plan",
]
