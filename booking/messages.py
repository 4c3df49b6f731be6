"""The two-phase commit's messages between a coordinator and a participant, in domain terms
(the REST adapter and the gateway translate them to and from JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

from booking.model import Window


@dataclass
class PrepareLeg:
    leg_index: int
    station_id: str
    connector_id: str
    window: Window


@dataclass
class Vote:
    """A participant's answer: the legs it holds and why it refused the others."""

    tx_id: str
    company: str
    held: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    places: dict[int, str] = field(default_factory=dict)

    @property
    def yes(self) -> bool:
        return not self.refused
