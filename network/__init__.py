"""The reference road network and vehicle models every company server ships (SPEC §2)."""

from network.graph import Network, Place, Road, great_circle_km
from network.reference import load_reference
from network.vehicles import VehicleModel

__all__ = ["Network", "Place", "Road", "VehicleModel", "great_circle_km", "load_reference"]
