"""kill -9 of real server processes at the protocol's worst moments (SPEC §4 "Failures").

Each test pauses one server at a named point (``service.company.faults``), kills it with SIGKILL
while it is paused there, restarts it without the pause, and checks what recovery made of it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest

from tests.federation import Federation, leg


def _federation(tmp_path, **faults) -> Federation:
    fed = Federation(tmp_path, faults=faults)
    fed.start()
    fed.stations = {
        c: fed.add_station(c, place)
        for c, place in (("a", "recife"), ("b", "maceio"), ("c", "aracaju"))
    }
    return fed


@pytest.fixture
def make(tmp_path):
    made = []

    def factory(**faults):
        fed = _federation(tmp_path, **faults)
        made.append(fed)
        return fed

    yield factory
    for fed in made:
        fed.close()


def _three_legs(fed, car="car-1"):
    s = fed.stations
    return {
        "car_id": car,
        "legs": [leg(s["a"], 60, 90), leg(s["b"], 300, 330), leg(s["c"], 600, 630)],
    }


def _post_in_background(url, body, headers=None):
    out = {}

    def run():
        try:
            out["response"] = httpx.post(url, json=body, timeout=60, headers=headers)
        except httpx.HTTPError as exc:  # the coordinator may be killed under it
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _book_until(fed, point: str, kill: str | None = None, check=None) -> dict:
    """Book the three legs at A, wait until a server reaches ``point``; then ``check()`` (what
    the databases say while it is paused there), kill ``kill`` and wait for the client's end."""
    thread, out = _post_in_background(f"{fed.api('a')}/bookings", _three_legs(fed), fed.driver["a"])
    fed.wait_reached(point)
    if check is not None:
        check()
    if kill is not None:
        fed.servers[kill].kill()
    thread.join(30)
    return out


def _states(fed, company, car):
    return [r["state"] for r in fed.reservations(company) if r["car_id"] == car]


def test_participant_killed_after_voting_yes_is_committed_after_restart(make):
    fed = make(c="commit")

    def voted_yes_and_holds():
        assert _states(fed, "c", "car-1") == ["held"]

    out = _book_until(fed, "commit", kill="c", check=voted_yes_and_holds)
    assert out["response"].status_code == 201  # the decision is commit, whatever C does now
    # phase two goes out after the answer: A and B confirm without waiting for C
    fed.eventually(
        lambda: _states(fed, "a", "car-1") == _states(fed, "b", "car-1") == ["confirmed"],
        what="A and B to commit",
    )
    fed.restart("c")
    fed.eventually(
        lambda: _states(fed, "c", "car-1") == ["confirmed"], what="C to commit after its restart"
    )


def test_participant_that_never_answers_a_prepare_aborts_the_booking(make):
    fed = make(c="after_hold")
    out = _book_until(fed, "after_hold", kill="c")  # C holds its window and then never answers
    assert out["response"].status_code == 503, out["response"].text
    for company in "ab":  # the aborts go out right after the answer (docs/protocol.md)
        assert "confirmed" not in _states(fed, company, "car-1")
        fed.eventually(
            lambda co=company: _states(fed, co, "car-1") == ["aborted"],
            what=f"{company} to release its hold",
        )
    assert _states(fed, "c", "car-1") == ["held"]  # what C's database says while it is down
    fed.restart("c")
    fed.eventually(
        lambda: _states(fed, "c", "car-1") == ["aborted"],
        what="C's hold to disappear once it is back",
    )


def test_coordinator_killed_after_deciding_finishes_the_commit_after_restart(make):
    fed = make(a="after_decision")
    out = _book_until(fed, "after_decision", kill="a")
    assert "error" in out  # the client saw the coordinator die
    # the coordinator's own leg was confirmed and acknowledged in the decision's transaction
    assert _states(fed, "a", "car-1") == ["confirmed"]
    [logged] = fed.rows("a", "SELECT state, acks FROM coordinator_tx")
    assert logged["state"] == "committed" and json.loads(logged["acks"])["a"] == "commit"
    for company in "bc":
        assert _states(fed, company, "car-1") == ["held"]
    fed.restart("a")
    for company in "abc":
        fed.eventually(
            lambda c=company: _states(fed, c, "car-1") == ["confirmed"],
            what=f"{company} to be committed by the restarted coordinator",
        )
    # a participant's row is confirmed before its acknowledgement reaches the coordinator's
    # log: wait for the acknowledgements, then check the log closed
    fed.phase_two_done("a")
    [tx] = fed.rows("a", "SELECT booking_id, state, open FROM coordinator_tx")
    assert tx["state"] == "committed" and tx["open"] is False
    booking = httpx.get(
        f"{fed.api('a')}/bookings/{tx['booking_id']}", headers=fed.driver["a"]
    ).json()
    assert booking["state"] == "confirmed"


def test_coordinator_killed_before_deciding_leaves_no_confirmed_leg_anywhere(make):
    fed = make(a="before_decision")

    def every_company_holds():  # every company voted yes and holds its leg
        for company in "abc":
            assert _states(fed, company, "car-1") == ["held"]

    _book_until(fed, "before_decision", kill="a", check=every_company_holds)
    fed.restart("a")
    for company in "abc":
        fed.eventually(
            lambda c=company: _states(fed, c, "car-1") == ["aborted"],
            what=f"{company} to release its hold (presumed abort)",
        )
    [tx] = fed.rows("a", "SELECT state, decision, reason FROM coordinator_tx")
    assert tx["state"] == "aborted" and "presumed abort" in tx["reason"]


def test_participant_in_doubt_with_a_dead_coordinator_decides_alone_and_reconciles(make, tmp_path):
    fed = make(a="after_decision")
    fed.servers["b"].kill()  # B will decide alone quickly: a short in-doubt limit
    fed.servers["b"].env["RECARGA_IN_DOUBT_SECONDS"] = "3"
    fed.servers["b"].start()
    _book_until(fed, "after_decision", kill="a")  # decided commit, nobody told yet
    fed.eventually(
        lambda: _states(fed, "b", "car-1") == ["aborted"], timeout=30, what="B's heuristic abort"
    )
    [rec] = fed.rows("b", "SELECT heuristic, heuristic_note FROM participant_tx")
    assert rec["heuristic"] == "abort"
    fed.restart("a")
    # the coordinator's commit reaches B; the window is still free, so B holds it again
    fed.eventually(
        lambda: _states(fed, "b", "car-1") == ["confirmed"],
        what="B to reconcile its heuristic decision with the commit",
    )
    fed.eventually(
        lambda: fed.rows("b", "SELECT heuristic_note FROM participant_tx")[0]["heuristic_note"],
        what="the reconciliation to be recorded",
    )


def _timed_booking(fed, company="a"):
    started = time.monotonic()
    r = httpx.post(
        f"{fed.api(company)}/bookings",
        headers=fed.driver[company],
        json=_three_legs(fed),
        timeout=60,
    )
    return r, time.monotonic() - started


PREPARE_TIMEOUT = 2.0  # tests.federation's RECARGA_PREPARE_TIMEOUT
MARGIN = 1.0  # docs/protocol.md: a booking answers within the prepare timeout + 1 s


def test_a_frozen_participant_makes_the_booking_answer_503_within_the_timeout(make):
    fed = make()
    c = fed.servers["c"].proc
    os.kill(c.pid, signal.SIGSTOP)  # alive, connections accepted by the kernel, never answered
    try:
        r, elapsed = _timed_booking(fed)
    finally:
        os.kill(c.pid, signal.SIGCONT)
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0  # a client knows when to try again
    assert elapsed < PREPARE_TIMEOUT + MARGIN, (elapsed, fed.servers["a"].log_tail(40))
    problem = r.json()
    assert problem["companies"] == ["c"]
    assert "did not answer" in problem["detail"] and "in time" in problem["detail"]
    assert "refused the connection" not in problem["detail"]
    for company in "abc":  # C held its leg once it woke up; the abort reaches it
        fed.eventually(
            lambda co=company: "held" not in _states(fed, co, "car-1"),
            what=f"{company} to hold nothing",
        )


def test_a_participant_that_refuses_the_connection_is_named_as_such(make):
    fed = make()
    fed.servers["c"].kill()
    r, elapsed = _timed_booking(fed)
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0
    assert elapsed < PREPARE_TIMEOUT + MARGIN, elapsed
    assert "refused the connection" in r.json()["detail"]
    for company in "ab":  # the abort is sent right after the answer
        fed.eventually(
            lambda co=company: "held" not in _states(fed, co, "car-1"),
            what=f"{company} to hold nothing",
        )


def _booking_answered_before_phase_two(fed) -> dict:
    """Book the three legs at A, whose phase two is paused: the client is answered anyway."""
    r = httpx.post(
        f"{fed.api('a')}/bookings", json=_three_legs(fed), timeout=30, headers=fed.driver["a"]
    )
    assert r.status_code == 201, r.text
    fed.wait_reached("phase_two")
    booking = r.json()
    assert booking["state"] == "confirmed"
    assert {leg["state"] for leg in booking["legs"]} == {"confirmed"}
    # what each company's database says in that instant: the decision is logged at A with
    # A's own leg confirmed in the same transaction; no peer has heard it yet, so their legs
    # are still held (and taken from everyone else)
    [tx] = fed.rows("a", "SELECT state, open FROM coordinator_tx")
    assert tx == {"state": "committed", "open": True}
    assert _states(fed, "a", "car-1") == ["confirmed"]
    for company in "bc":
        assert _states(fed, company, "car-1") == ["held"]
    return booking


def test_a_booking_answered_before_phase_two_ends_confirmed_at_every_company(make):
    fed = make(a="phase_two")
    booking = _booking_answered_before_phase_two(fed)
    # a client reading the booking in that instant sees it as decided: confirmed
    got = httpx.get(f"{fed.api('a')}/bookings/{booking['booking_id']}", headers=fed.driver["a"])
    assert got.json()["state"] == "confirmed"
    assert {leg["state"] for leg in got.json()["legs"]} == {"confirmed"}
    fed.release("phase_two")
    fed.phase_two_done("a", booking["booking_id"])
    for company in "abc":
        assert _states(fed, company, "car-1") == ["confirmed"]


def test_coordinator_killed_right_after_answering_still_commits_at_every_company(make):
    fed = make(a="phase_two")
    booking = _booking_answered_before_phase_two(fed)
    fed.servers["a"].kill()
    for company in "bc":  # nobody decides alone: the holds stay
        assert _states(fed, company, "car-1") == ["held"]
    fed.restart("a")
    for company in "abc":
        fed.eventually(
            lambda c=company: _states(fed, c, "car-1") == ["confirmed"],
            what=f"{company} to be committed by the restarted coordinator",
        )
    fed.phase_two_done("a", booking["booking_id"])
    got = httpx.get(f"{fed.api('a')}/bookings/{booking['booking_id']}", headers=fed.driver["a"])
    assert got.json()["state"] == "confirmed"


def test_a_cancellation_right_after_the_answer_waits_for_its_commit(make):
    fed = make(a="phase_two")
    booking = _booking_answered_before_phase_two(fed)
    threading.Timer(0.3, fed.release, ("phase_two",)).start()
    r = httpx.delete(
        f"{fed.api('a')}/bookings/{booking['booking_id']}", timeout=30, headers=fed.driver["a"]
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    fed.phase_two_done("a", booking["booking_id"])
    for company in "abc":
        assert _states(fed, company, "car-1") == ["cancelled"]
    [tx] = fed.rows("a", "SELECT reason FROM coordinator_tx")
    assert not tx["reason"], tx  # no company refused a message (the commit came first)


def test_a_cancellation_while_a_company_is_frozen_answers_within_the_timeout(make):
    """DELETE /bookings with the commit still on its way to a frozen company: answered within
    the prepare timeout + 1 s (not a wait for the commit, then another for the cancel), and
    the frozen company, once it wakes, hears the commit, then the cancellation, in order."""
    fed = make(a="outbox_round@c")
    r = httpx.post(
        f"{fed.api('a')}/bookings", json=_three_legs(fed), timeout=30, headers=fed.driver["a"]
    )
    assert r.status_code == 201, r.text
    booking_id = r.json()["booking_id"]
    fed.wait_reached("outbox_round@c")  # A's sender to C is about to send the commit
    c = fed.servers["c"].proc
    os.kill(c.pid, signal.SIGSTOP)
    try:
        fed.release("outbox_round@c")  # the commit leaves for a company that cannot answer
        started = time.monotonic()
        r = httpx.delete(
            f"{fed.api('a')}/bookings/{booking_id}", timeout=30, headers=fed.driver["a"]
        )
        elapsed = time.monotonic() - started
    finally:
        os.kill(c.pid, signal.SIGCONT)
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    assert elapsed < PREPARE_TIMEOUT + MARGIN, elapsed
    fed.phase_two_done("a", booking_id)
    for company in "abc":
        assert _states(fed, company, "car-1") == ["cancelled"]
    [tx] = fed.rows("a", "SELECT reason FROM coordinator_tx")
    assert not tx["reason"], tx  # C took the commit, then the cancellation: nothing refused
