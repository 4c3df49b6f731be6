"""The ports a use case reaches through its ``Context``, as types: how to reach any company
(``Peers``: this one by a direct call, any other by its REST API), phase two after the answer
(``PhaseTwo``), the peers' catalogs kept here (``CatalogCopies``), and this company's own two
roles as the gateway calls them (``ParticipantRole``, ``CoordinatorRole``: the modules
``service.protocol.participant`` and ``service.protocol.coordinator`` themselves).

The composition root (``recarga.app.wire``) fills them with ``service.protocol.gateway.Gateway``,
``service.protocol.outbox.Outbox`` and ``service.catalogs.peer_catalogs.PeerCatalogs``; the use cases know only these types,
so nothing in the service layer imports the modules that import it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from booking.errors import DomainError
from booking.messages import Vote
from booking.model import Window
from booking.transaction import BookingTx, TxLeg
from booking.wire import Decision, Prepare

if TYPE_CHECKING:  # types only: both import this module
    from service.catalogs.peer_catalogs import PeerCatalog
    from service.company.context import Context

T = TypeVar("T")


class ParticipantRole(Protocol):
    """This company as a participant (``service.protocol.participant``)."""

    def prepare(
        self, ctx: Context, tx_id: str, message: Prepare, deadline: float | None = None
    ) -> Vote: ...

    def decide_all(
        self, ctx: Context, decisions: list[Decision], coordinator: str
    ) -> list[str | DomainError]: ...

    def status(self, ctx: Context, tx_id: str, asker: str | None = None) -> dict: ...


class CoordinatorRole(Protocol):
    """This company as a coordinator (``service.protocol.coordinator``)."""

    def wound(
        self,
        ctx: Context,
        tx_id: str,
        leg_indexes: list[int],
        reason: str,
        by_company: str | None = None,
    ) -> bool: ...

    def status(
        self, ctx: Context, tx_id: str, asker: str | None = None, live: bool = False
    ) -> dict: ...


class Peers(Protocol):
    """Every message to a company, this one included (``service.protocol.gateway.Gateway``)."""

    def catalog(
        self, ctx: Context, company: str, since: int | None = None, if_none_match: int | None = None
    ) -> dict | None: ...

    def availability(
        self, ctx: Context, company: str, span: Window, places: list[str] | None
    ) -> dict: ...

    def notify_catalog(self, ctx: Context, company: str) -> None: ...

    def prepare(
        self,
        ctx: Context,
        company: str,
        tx: BookingTx,
        legs: list[TxLeg],
        hold_seconds: int | None,
        partial: bool,
    ) -> Vote: ...

    def prepares_queued(self, company: str) -> int: ...

    def finish(
        self, ctx: Context, company: str, items: list[tuple[BookingTx, str]]
    ) -> list[str | Exception]: ...

    def wound(
        self,
        ctx: Context,
        coordinator: str,
        tx_id: str,
        leg_indexes: list[int],
        reason: str,
        timeout: float | None = None,
    ) -> bool: ...

    def coordinator_status(self, ctx: Context, coordinator: str, tx_id: str) -> dict | None: ...

    def coordinator_booking(self, ctx: Context, coordinator: str, tx_id: str) -> dict | None: ...

    def participant_status(self, ctx: Context, company: str, tx_id: str) -> dict | None: ...


class PhaseTwo(Protocol):
    """Decided transactions' messages, sent after the answer (``service.protocol.outbox.Outbox``)."""

    def submit(self, ctx: Context, tx: BookingTx) -> None: ...

    def settle(self, tx_id: str, timeout: float) -> bool: ...


class CatalogCopies(Protocol):
    """The peers' static catalogs as copied here (``service.catalogs.peer_catalogs.PeerCatalogs``)."""

    own: tuple[int, list[dict]] | None

    def catalog(self, company: str) -> PeerCatalog: ...

    def memo(self, name: tuple, catalog: object, key: tuple, build: Callable[[], T]) -> T: ...

    def ready(self, ctx: Context, company: str) -> PeerCatalog: ...

    def sync(self, ctx: Context, company: str, full: bool = False) -> bool: ...

    def nudge(self, company: str) -> None: ...

    def forget(self, company: str) -> None: ...

    def start(self, ctx: Context) -> None: ...

    def stop(self) -> None: ...


class Unwired:
    """A port the composition root has not filled yet: any use of it says so."""

    def __init__(self, port: str):
        self._port = port

    def __getattr__(self, name: str):
        raise RuntimeError(
            f"ctx.{self._port} is not wired: build the context with recarga.app.wire"
        )
