"""The cars' last telemetry."""

from __future__ import annotations

import peewee

from storage import models as m
from storage.repository import Repository


class TelemetryRepository(Repository):
    def save_telemetry(self, rows: list[dict]) -> None:
        """Upsert the latest telemetry of each car; ``messages`` accumulates counts."""
        if not rows:
            return
        t = m.CarTelemetry
        t.insert_many(rows).on_conflict(
            conflict_target=[t.car_id],
            update={
                t.soc: peewee.EXCLUDED.soc,
                t.lat: peewee.EXCLUDED.lat,
                t.lon: peewee.EXCLUDED.lon,
                t.speed_kmh: peewee.EXCLUDED.speed_kmh,
                t.received_at: peewee.EXCLUDED.received_at,
                t.messages: t.messages + peewee.EXCLUDED.messages,
            },
        ).execute()
