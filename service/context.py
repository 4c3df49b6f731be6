"""Everything a use case needs about the company it runs for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from network.reference import Reference
from storage import Store


@dataclass
class Context:
    company: str
    store: Store
    reference: Reference
    public_url: str = ""
    admin_token: str = ""
    version: str = "0"
    mqtt_status: Callable[[], str] = field(default=lambda: "disabled")
