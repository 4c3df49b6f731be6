"""Recovery keeps off what a live process is finishing: a transaction is taken over only when
its lease ran out or its process is dead (no grace before: it resent decisions of transactions
still being answered, and a crash test failed now and then; with a company as several
processes, a restarting one presumed the others' live bookings aborted)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.model import utcnow
from booking.transaction import BookingTx
from network import load_reference
from recarga.app import wire
from service.company.context import Context
from service.protocol import coordinator, recovery
from storage import Store
from storage import models as m
from tests.integration.transactions import committed_tx


@pytest.fixture
def ctx(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    yield wire(Context(company="a", store=store, reference=load_reference()))
    store.close()


def _decided(ctx, name: str) -> BookingTx:
    """A committed transaction whose commit company 'b' has not acknowledged yet, logged by
    this process (which holds its lease from then on)."""
    tx = committed_tx(name)
    with ctx.store.connection():
        ctx.store.add_tx(tx)
    return tx


def _lease(ctx, tx: BookingTx, owner: str | None = None, seconds_left: float = -1) -> None:
    changes: dict = {"lease_until": utcnow() + timedelta(seconds=seconds_left)}
    if owner is not None:
        changes["lease_owner"] = owner
    with ctx.store.connection():
        m.CoordinatorTx.update(**changes).where(m.CoordinatorTx.tx_id == tx.tx_id).execute()


def _another_process(ctx, process_id: str, replica: str) -> None:
    """Another process of the company, starting now on the same database."""
    now = utcnow()
    with ctx.store.connection():
        m.ServerProcess.insert(
            id=process_id, replica=replica, started_at=now, seen_at=now
        ).execute()


def test_recovery_takes_over_only_an_expired_lease_or_a_dead_process_s_work(ctx, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(coordinator, "finish_open", lambda _ctx, tx: sent.append(tx.tx_id))
    ctx.store.register_process("me", "r1", recovery.idle_after(ctx))
    fresh, expired, live = _decided(ctx, "fresh"), _decided(ctx, "expired"), _decided(ctx, "live")
    _lease(ctx, expired)
    _lease(ctx, live)
    ctx.live.enter(live.tx_id)  # a request of this process is still answering it
    recovery.coordinator_sweep(ctx)
    assert sent == [expired.tx_id]  # the fresh lease and the live one are left alone

    # another process's transaction, its lease valid: left alone while that process lives
    _another_process(ctx, "other", "r2")
    others = _decided(ctx, "others")
    _lease(ctx, others, owner="other", seconds_left=60)
    sent.clear()
    recovery.coordinator_sweep(ctx)
    assert others.tx_id not in sent
    # that process restarts (a newer start of its replica): its old work is taken over at once
    _another_process(ctx, "other-again", "r2")
    recovery.coordinator_sweep(ctx)
    assert others.tx_id in sent
    with ctx.store.connection():
        assert ctx.store.get_tx(others.tx_id).lease_owner == "me"  # claimed by this process
    assert fresh.tx_id not in sent
    ctx.live.leave(live.tx_id)
    sent.clear()
    recovery.coordinator_sweep(ctx)
    assert live.tx_id in sent


def test_two_processes_claiming_one_transaction_one_wins(ctx):
    ctx.store.register_process("me", "r1", recovery.idle_after(ctx))
    tx = _decided(ctx, "contested")
    _lease(ctx, tx)
    with ctx.store.connection():
        assert ctx.store.claim_tx(tx.tx_id, set()) is True
        assert ctx.store.claim_tx(tx.tx_id, set()) is False  # its lease is valid again now
