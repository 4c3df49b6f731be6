"""The pure core of the protocol: the priority rule and the coordinator's state machine."""

from datetime import UTC, datetime, timedelta

import pytest

from booking.model import Reservation, ReservationState, Window
from booking.priority import Priority, contend
from booking.transaction import BookingTx, LegState, Mode, TxLeg, TxState

T0 = datetime(2030, 1, 1, 8, tzinfo=UTC)
W = Window(T0, T0 + timedelta(minutes=30))


def res(state, priority_min=None, booking="bk-other"):
    return Reservation(
        id="r1",
        connector_id="c1",
        station_id="s1",
        window=W,
        state=ReservationState(state),
        booking_id=booking,
        tx_id="tx-o",
        priority_at=T0 + timedelta(minutes=priority_min) if priority_min is not None else None,
    )


def mine(minute=0, booking="bk-mine"):
    return Priority(T0 + timedelta(minutes=minute), booking)


def test_a_free_window_is_free():
    assert contend(mine(), []).free


def test_committed_reservations_are_never_taken():
    for state in ("confirmed", "charging"):
        outcome = contend(mine(-100), [res(state, priority_min=50)])
        assert outcome.refused and not outcome.victims


def test_an_earlier_hold_refuses_at_once_and_a_later_one_is_a_victim():
    assert contend(mine(5), [res("held", priority_min=1)]).refused
    outcome = contend(mine(1), [res("held", priority_min=5)])
    assert outcome.refused is None and [v.id for v in outcome.victims] == ["r1"]


def test_equal_priorities_are_ordered_by_booking_id_the_same_everywhere():
    assert contend(mine(0, "bk-a"), [res("held", 0, "bk-b")]).victims
    assert contend(mine(0, "bk-b"), [res("held", 0, "bk-a")]).refused


def test_one_unbeatable_reservation_refuses_even_with_victims_around():
    outcome = contend(mine(1), [res("held", priority_min=5), res("confirmed", 9)])
    assert outcome.refused and not outcome.victims


def tx(mode=Mode.DEFAULT, companies=("a", "b", "c")):
    legs = [TxLeg(i, c, f"{c}-x-1", f"{c}-x-1-c1", W) for i, c in enumerate(companies)]
    return BookingTx("tx-1", "bk-1", "a", "car", mode, T0, legs, T0)


def vote_all(t, refuse=()):
    for leg in t.legs:
        if leg.leg_index in refuse:
            t.record_vote(leg.company, [], {leg.leg_index: "taken"})
        else:
            t.record_vote(leg.company, [leg.leg_index], {})


def test_all_yes_commits_and_every_company_is_told():
    t = tx()
    vote_all(t)
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.COMMITTED and t.decision == "commit"
    assert t.pending_messages() == {"a": "commit", "b": "commit", "c": "commit"}
    t.acknowledge("a", "commit")
    assert set(t.pending_messages()) == {"b", "c"} and not t.finished


def test_a_refusal_aborts_in_default_mode():
    t = tx()
    vote_all(t, refuse={1})
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.ABORTED and [leg.leg_index for leg in t.refused_legs] == [1]
    assert set(t.pending_messages().values()) == {"abort"}


def test_a_company_that_stops_at_its_first_refused_leg_is_not_called_silent():
    """All or nothing at a company: it refuses one leg and does not try its other one."""
    t = tx(companies=("a", "a", "b"))
    t.record_vote("a", [], {0: "taken"})
    t.record_vote("b", [2], {})
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.ABORTED
    assert t.reason == "1 of 3 legs are not available"
    assert [leg.leg_index for leg in t.refused_legs] == [0]


def test_a_vote_that_leaves_a_leg_undecided_without_any_refusal_aborts():
    """A broken peer answers a prepare naming neither hold nor refusal for a leg: never a commit,
    and not a hold either (there is nothing to replace)."""
    t = tx(Mode.HOLD)
    t.record_vote("a", [0], {})
    t.record_vote("b", [], {})
    t.record_vote("c", [2], {})
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.ABORTED and "without a vote on every leg" in t.reason


def test_a_silent_company_aborts_even_in_hold_mode():
    t = tx(Mode.HOLD)
    t.record_vote("a", [0], {})
    t.record_vote("b", [1], {})
    t.record_unreachable("c", "timeout")
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.ABORTED and "did not answer" in t.reason


def test_hold_mode_keeps_the_rest_and_accepts_replacements_until_expiry():
    t = tx(Mode.HOLD)
    vote_all(t, refuse={2})
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.HELD and t.hold_expires_at == T0 + timedelta(minutes=2)
    with pytest.raises(ValueError):  # only refused legs may be replaced
        t.replace_legs([TxLeg(0, "a", "a-y-1", "a-y-1-c1", W)], T0)
    t.replace_legs([TxLeg(2, "b", "b-y-1", "b-y-1-c1", W)], T0 + timedelta(minutes=1))
    assert t.state == TxState.PREPARING and t.leg(2).state == LegState.PENDING
    t.record_vote("b", [2], {})
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.COMMITTED
    # c was asked once and must hear the decision too (it holds nothing: commit of no legs)
    assert t.pending_messages()["c"] == "commit" and t.held_legs_of("c") == []


def test_an_expired_hold_aborts():
    t = tx(Mode.HOLD)
    vote_all(t, refuse={1})
    t.decide(T0, timedelta(minutes=2))
    assert not t.expire(T0 + timedelta(minutes=1))
    assert t.expire(T0 + timedelta(minutes=2)) and t.state == TxState.ABORTED
    with pytest.raises(ValueError):
        t.replace_legs([TxLeg(1, "b", "b-y-1", "b-y-1-c1", W)], T0 + timedelta(minutes=3))


def test_a_wound_before_the_decision_is_granted_and_after_commit_refused():
    t = tx()
    assert t.wound([1], "taken by an earlier booking")
    assert t.state == TxState.ABORTED and t.leg(1).state == LegState.PREEMPTED
    vote_all(t)  # votes that arrive after the decision change nothing
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.ABORTED and t.leg(0).state == LegState.PENDING
    committed = tx()
    vote_all(committed)
    committed.decide(T0, timedelta(minutes=2))
    assert not committed.wound([1], "too late")
    assert committed.state == TxState.COMMITTED


def test_a_wound_in_hold_mode_only_loses_that_leg():
    t = tx(Mode.HOLD)
    assert t.wound([1], "taken")
    vote_all(t)
    t.decide(T0, timedelta(minutes=2))
    assert t.state == TxState.HELD and [leg.leg_index for leg in t.refused_legs] == [1]
    assert t.leg(1).state == LegState.PREEMPTED


def test_cancel_after_commit_and_before_it():
    t = tx()
    vote_all(t)
    t.decide(T0, timedelta(minutes=2))
    t.cancel()
    assert t.state == TxState.CANCELLED and set(t.pending_messages().values()) == {"cancel"}
    early = tx()
    early.cancel()
    assert early.state == TxState.ABORTED and early.decision == "abort"


def test_a_preemption_is_accepted_only_from_the_company_holding_the_legs():
    t = tx(companies=("a", "b", "c"))  # leg i at company "abc"[i]
    assert t.preemption_refusal("b", [1]) is None
    assert "not held at company b" in t.preemption_refusal("b", [0, 1])
    assert "takes no part" in t.preemption_refusal("mallory", [0])
    assert t.preemption_refusal("b", []) is not None
