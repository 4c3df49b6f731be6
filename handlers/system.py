"""GET /health and GET /network."""

from __future__ import annotations

from booking.model import utcnow
from handlers.current import current
from handlers.serialize import iso, ok


def health():
    ctx = current()
    try:
        with ctx.store.connection():
            ctx.store.get_setting("schema_version")
        database = "ok"
    except Exception:  # a health check reports, it does not fail
        database = "error"
    mqtt = ctx.mqtt_status()
    status = "ok" if database == "ok" and mqtt != "disconnected" else "degraded"
    return ok(
        {
            "status": status,
            "company": ctx.company,
            "public_url": ctx.public_url,
            "version": ctx.version,
            "network_version": ctx.reference.version,
            "database": database,
            "mqtt": mqtt,
            "time": iso(utcnow()),
        }
    )


def network():
    ref = current().reference
    return ok(
        {
            **ref.network.to_dict(),
            "sources": ref.sources,
            "vehicles": [vars(v) for v in ref.vehicles.values()],
        }
    )
