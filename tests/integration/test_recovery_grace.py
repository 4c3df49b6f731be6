"""Recovery keeps off what a live request is finishing (no grace before: it resent decisions
of transactions still being answered, and a crash test failed now and then)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.model import Window, utcnow
from booking.transaction import BookingTx, LegState, Mode, TxLeg, TxState
from network import load_reference
from recarga.app import wire
from service import coordinator, recovery
from service.context import Context
from storage import Store


@pytest.fixture
def ctx(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.bind()
    yield wire(Context(company="a", store=store, reference=load_reference()))
    store.close()


def _decided(ctx, updated_ago: float) -> BookingTx:
    """A committed transaction whose commit company 'b' has not acknowledged yet."""
    now = utcnow()
    w = Window(now + timedelta(hours=1), now + timedelta(hours=2))
    tx = BookingTx(tx_id=f"tx-{updated_ago}", booking_id=f"bk-{updated_ago}", coordinator="a",
                   car_id="car", mode=Mode.DEFAULT, priority_at=now, created_at=now,
                   legs=[TxLeg(0, "b", "b-maceio-1", "b-maceio-1-c1", w, LegState.HELD)],
                   state=TxState.COMMITTED, decision="commit",
                   updated_at=now - timedelta(seconds=updated_ago))
    with ctx.store.connection():
        ctx.store.add_tx(tx)
    return tx


def test_recovery_resends_only_what_is_idle_or_left_by_a_previous_process(ctx, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(coordinator, "finish_open", lambda _ctx, tx: sent.append(tx.tx_id))
    idle = recovery.idle_after(ctx).total_seconds()
    fresh, old, live = _decided(ctx, 1), _decided(ctx, idle + 1), _decided(ctx, idle + 2)
    ctx.live.enter(live.tx_id)  # a request of this process is still answering it
    recovery.coordinator_sweep(ctx, started_at=utcnow() - timedelta(hours=1))
    assert sent == [old.tx_id]

    sent.clear()  # after a restart, everything touched before it was left by the old process
    recovery.coordinator_sweep(ctx, started_at=utcnow())
    assert sorted(sent) == sorted([fresh.tx_id, old.tx_id])
    ctx.live.leave(live.tx_id)
    sent.clear()
    recovery.coordinator_sweep(ctx, started_at=utcnow())
    assert live.tx_id in sent
