"""The participant's state machine, without a database (booking/participation.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from booking.errors import Conflict, NotFound
from booking.model import ParticipantRecord, ParticipantState
from booking.participation import Participation

NOW = datetime(2030, 1, 1, tzinfo=UTC)
HELD = {(0, "a-x-1-c1"), (1, "a-y-1-c1")}


def prepared(coordinator="b") -> Participation:
    return Participation(ParticipantRecord("tx-1", coordinator, "bk-1", NOW), "a")


def test_commit_without_legs_confirms_every_hold():
    p = prepared()
    plan = p.commit("b", HELD, None)
    assert plan.confirm == HELD and plan.release == frozenset()
    assert p.rec.state == ParticipantState.COMMITTED
    assert p.commit("b", set(), None) is None  # a repeated commit changes nothing


def test_commit_naming_legs_cross_checks_them_and_releases_the_rest():
    p = prepared()
    plan = p.commit("b", HELD, {(0, "a-x-1-c1")})
    assert plan.confirm == {(0, "a-x-1-c1")} and plan.release == {(1, "a-y-1-c1")}
    with pytest.raises(Conflict):
        prepared().commit("b", HELD, {(2, "a-z-1-c1")})


def test_only_the_coordinator_moves_the_transaction():
    for move in (
        lambda p: p.commit("c", HELD, None),
        lambda p: p.abort("c"),
        lambda p: p.cancel("c"),
    ):
        p = prepared()
        with pytest.raises(NotFound):
            move(p)
        assert p.rec.state == ParticipantState.PREPARED
    assert prepared().refusal_to_hold("c") is not None


def test_abort_before_commit_releases_and_commit_after_abort_is_a_conflict():
    p = prepared()
    assert p.abort("b") is True and p.rec.state == ParticipantState.ABORTED
    assert p.abort("b") is False  # a repeated abort
    with pytest.raises(Conflict):
        p.commit("b", set(), None)
    assert "aborted" in p.refusal_to_hold("b")


def test_abort_after_commit_is_a_conflict():
    p = prepared()
    p.commit("b", HELD, None)
    with pytest.raises(Conflict):
        p.abort("b")
    assert p.cancel("b") is True and p.rec.state == ParticipantState.CANCELLED


def test_an_abort_before_its_prepare_is_remembered():
    rec = Participation.presumed_abort("tx-9", "b", NOW)
    assert rec.state == ParticipantState.ABORTED
    assert "aborted" in Participation(rec, "a").refusal_to_hold("b")


def test_a_heuristic_abort_then_a_commit_is_repaired_or_recorded():
    p = prepared()
    assert p.give_up() is True and p.rec.heuristic == "abort"
    assert p.needs_repair
    assert prepared().needs_repair is False
    p.repaired()
    assert p.rec.state == ParticipantState.COMMITTED and "held again" in p.rec.heuristic_note
    q = prepared()
    q.commit("b", HELD, None)
    assert q.give_up() is False  # the outcome arrived first
