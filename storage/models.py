"""peewee tables. Each unit of work binds them to its company's database (``database_proxy``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import peewee

from storage.fields import TimestampTZField


class CompanyDatabase(peewee.DatabaseProxy):
    """The models' database: the one of the store whose unit of work this thread is in
    (``Store.connection()`` and ``Store.transaction()`` bind their own for their scope). There
    is no process-wide default: several companies can share one process (the integration
    tests run a federation so), each store's work reaching its own database, and a model used
    outside any unit of work is a bug said at once, not a query sent to whichever company
    happened to bind last."""

    __slots__ = ("_local",)

    def __init__(self) -> None:
        object.__setattr__(self, "_local", threading.local())
        super().__init__()

    def __setattr__(self, attr: str, value) -> None:
        if attr == "obj":
            if value is not None:  # peewee's own initialize(None) at construction is harmless
                raise TypeError("bind a database for a unit of work: Store.connection()")
            return
        object.__setattr__(self, attr, value)

    @property  # type: ignore[override]  # the base class's slot, read per thread here
    def obj(self) -> peewee.Database:
        stack = getattr(self._local, "stack", None)
        if not stack:
            raise RuntimeError(
                "storage models used outside a unit of work: wrap the call in "
                "Store.connection() or Store.transaction()"
            )
        return stack[-1]

    @contextlib.contextmanager
    def bound(self, db: peewee.Database) -> Iterator[None]:
        """The models reach ``db`` from this thread until the block ends (nestable)."""
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append(db)
        try:
            yield
        finally:
            stack.pop()


database_proxy = CompanyDatabase()


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Setting(BaseModel):
    """Key/value facts about this database (schema and network versions, company id)."""

    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()


class Peer(BaseModel):
    company = peewee.CharField(primary_key=True, max_length=32)
    url = peewee.CharField(max_length=512)
    # sha256 of the token this peer presents to us; the token itself is never stored.
    token_in_sha256 = peewee.CharField(max_length=64, index=True)
    # the one before, still accepted until the next rotation (calls in flight, crossed handshakes)
    token_prev_sha256 = peewee.CharField(max_length=64, null=True, index=True)
    # the token we present to this peer
    token_out = peewee.CharField(max_length=128)
    created_at = TimestampTZField()
    updated_at = TimestampTZField()
    last_ok_at = TimestampTZField(null=True)
    last_error = peewee.TextField(null=True)


class Driver(BaseModel):
    """A driver credential issued by this company's admin (REST clients)."""

    id = peewee.CharField(primary_key=True, max_length=40)
    name = peewee.CharField(max_length=128)
    token_sha256 = peewee.CharField(max_length=64, unique=True)  # the token is never stored
    created_at = TimestampTZField()
    revoked_at = TimestampTZField(null=True)  # revoked: its token opens nothing any more
    expires_at = TimestampTZField(null=True)  # its token opens nothing from then on
    token_issued_at = TimestampTZField(null=True)  # the current token's (rotation)


class Station(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=64)
    company = peewee.CharField(max_length=32, index=True)
    place_id = peewee.CharField(max_length=64, index=True)
    name = peewee.CharField(max_length=128)
    lat = peewee.DoubleField()
    lon = peewee.DoubleField()
    status = peewee.CharField(max_length=16, default="available")
    created_at = TimestampTZField()


class Connector(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=80)
    station = peewee.ForeignKeyField(Station, backref="connectors", on_delete="CASCADE")
    station_id: str  # the foreign key's column, as peewee exposes it
    power_kw = peewee.DoubleField()
    price_per_kwh = peewee.DoubleField()
    standard = peewee.CharField(max_length=16, default="CCS2")


class Reservation(BaseModel):
    """A window of one connector. Active states (held, confirmed, charging) never overlap."""

    id = peewee.CharField(primary_key=True, max_length=64)
    connector = peewee.ForeignKeyField(Connector, backref="reservations", on_delete="CASCADE")
    connector_id: str  # the foreign key's column, as peewee exposes it
    station_id = peewee.CharField(max_length=64, index=True)
    start_at = TimestampTZField()
    end_at = TimestampTZField()
    state = peewee.CharField(max_length=16, index=True)
    booking_id = peewee.CharField(max_length=64, index=True)
    tx_id = peewee.CharField(max_length=64, null=True, index=True)
    leg_index = peewee.IntegerField(default=0)
    car_id = peewee.CharField(max_length=64, null=True)
    priority_at = TimestampTZField(null=True)
    hold_expires_at = TimestampTZField(null=True)
    created_at = TimestampTZField()
    updated_at = TimestampTZField()


class CoordinatorTx(BaseModel):
    """The coordinator's durable log of one booking transaction (two-phase commit)."""

    tx_id = peewee.CharField(primary_key=True, max_length=64)
    booking_id = peewee.CharField(max_length=64, unique=True)
    state = peewee.CharField(max_length=16, index=True)
    decision = peewee.CharField(max_length=16, null=True)
    mode = peewee.CharField(max_length=16, default="default")
    car_id = peewee.CharField(max_length=64, null=True)
    priority_at = TimestampTZField()
    legs = peewee.TextField()  # JSON
    coordinator = peewee.CharField(max_length=32)
    # who made it: "driver:<id>", "car:<car id>" (MQTT) or "admin"; only they see it
    owner = peewee.CharField(max_length=80, null=True, index=True)
    reason = peewee.TextField(null=True)
    acks = peewee.TextField(default="{}")  # JSON: company -> last message it acknowledged
    open = peewee.BooleanField(default=True, index=True)  # something left to decide or send
    idempotency_key = peewee.CharField(max_length=128, null=True, unique=True)
    request_sha256 = peewee.CharField(max_length=64, null=True)
    result = peewee.TextField(null=True)  # JSON of the answer given to the client
    trip = peewee.TextField(null=True)  # JSON: the trip the legs serve, when the client sent it
    hold_expires_at = TimestampTZField(null=True)
    # when the decision was logged (the console shows how long deciding took)
    decided_at = TimestampTZField(null=True)
    # the server process working on it, until when (storage/processes.py)
    lease_owner = peewee.CharField(max_length=40, null=True)
    lease_until = TimestampTZField(null=True)
    created_at = TimestampTZField()
    updated_at = TimestampTZField()


class ServerProcess(BaseModel):
    """A server process of this company: registered at start, beating while it lives."""

    id = peewee.CharField(primary_key=True, max_length=40)
    replica = peewee.CharField(max_length=64)  # RECARGA_REPLICA: a restart replaces its start
    started_at = TimestampTZField()
    seen_at = TimestampTZField()


class ParticipantTx(BaseModel):
    """A participant's record of a transaction it voted on, and what it knows of the outcome."""

    tx_id = peewee.CharField(primary_key=True, max_length=64)
    coordinator = peewee.CharField(max_length=32)
    booking_id = peewee.CharField(max_length=64, index=True)
    car_id = peewee.CharField(max_length=64, null=True)
    state = peewee.CharField(max_length=24, index=True)
    priority_at = TimestampTZField()
    hold_expires_at = TimestampTZField(null=True)
    # A decision this participant took alone after a long doubt, and what became of it.
    heuristic = peewee.CharField(max_length=16, null=True)
    heuristic_note = peewee.TextField(null=True)
    created_at = TimestampTZField()
    updated_at = TimestampTZField()


class CarTelemetry(BaseModel):
    """The last telemetry of each car (written in batches: one row per car, not per message)."""

    car_id = peewee.CharField(primary_key=True, max_length=64)
    soc = peewee.DoubleField()
    lat = peewee.DoubleField()
    lon = peewee.DoubleField()
    speed_kmh = peewee.DoubleField()
    messages = peewee.IntegerField(default=0)
    received_at = TimestampTZField()


class CatalogChange(BaseModel):
    """One change of this company's static catalog (a station added, changed or removed), in
    version order: what peers' replicas catch up from (``GET /catalog?since=``)."""

    version = peewee.BigIntegerField(primary_key=True)
    station_id = peewee.CharField(max_length=64, index=True)
    at = TimestampTZField()


ALL_MODELS = [
    Setting,
    Peer,
    Driver,
    Station,
    Connector,
    Reservation,
    CoordinatorTx,
    ParticipantTx,
    CatalogChange,
    CarTelemetry,
    ServerProcess,
]
