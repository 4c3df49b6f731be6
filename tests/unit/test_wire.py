"""Each two-phase-commit message, written by one end and read by the other (booking.wire): what
the coordinator's gateway sends is what the participant's adapter reads, and back."""

from datetime import UTC, datetime, timedelta

import pytest

from booking import wire
from booking.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from booking.messages import PrepareLeg, Vote
from booking.model import Window

T = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _prepare(**changes) -> wire.Prepare:
    legs = [
        PrepareLeg(0, "b-maceio-1", "b-maceio-1-c1", Window(T, T + timedelta(minutes=30))),
        PrepareLeg(
            2, "b-recife-1", "b-recife-1-c2", Window(T + timedelta(hours=3), T + timedelta(hours=4))
        ),
    ]
    return wire.Prepare(
        **{
            "coordinator": "a",
            "booking_id": "bk-1",
            "priority_at": T,
            "car_id": "car-1",
            "legs": legs,
            **changes,
        }
    )


@pytest.mark.parametrize("changes", [{}, {"hold_seconds": 150, "partial": True}])
def test_a_prepare_reads_back_as_it_was_written(changes):
    sent = _prepare(**changes)
    assert wire.Prepare.from_json(sent.to_json(), sender="a") == sent


def test_a_prepare_speaks_only_for_the_company_that_sends_it():
    with pytest.raises(Unauthorized, match="on behalf of a"):
        wire.Prepare.from_json(_prepare().to_json(), sender="c")


def test_a_leg_that_ends_before_it_starts_is_the_sender_s_error():
    body = _prepare().to_json()
    body["legs"][0]["end"] = body["legs"][0]["start"]
    with pytest.raises(InvalidRequest, match="legs\\[0\\]"):
        wire.Prepare.from_json(body, sender="a")


def test_a_vote_reads_back_yes_and_no():
    sent = _prepare()
    yes = Vote("tx-1", "b", held=[0, 2], places={0: "maceio", 2: "recife"})
    status, body = wire.vote_answer(yes, sent, "b")
    assert status == 200
    assert wire.vote_from_answer("tx-1", "b", [0, 2], status, body) == yes
    no = Vote("tx-1", "b", held=[0], refused={2: "connector taken"})
    status, body = wire.vote_answer(no, sent, "b")
    assert status == 409 and body["conflicts"][0]["connector_id"] == "b-recife-1-c2"
    assert wire.vote_from_answer("tx-1", "b", [0, 2], status, body) == no


def test_a_reply_that_is_not_a_vote_is_malformed_or_a_refusal():
    with pytest.raises(wire.MalformedReply, match="without holding legs \\[2\\]"):
        wire.vote_from_answer(
            "tx-1", "b", [0, 2], 200, {"legs": [{"leg_index": 0, "state": "held"}]}
        )
    with pytest.raises(wire.MalformedReply):
        wire.vote_from_answer("tx-1", "b", [0], 409, {"conflicts": [{"reason": "x"}]})
    refused = wire.vote_from_answer("tx-1", "b", [0], 503, {"detail": "database down"})
    assert "refused the prepare (503): database down" in refused.refused[0]


def test_phase_two_reads_back():
    commit = wire.Decision("tx-1", "commit", [(0, "b-maceio-1-c1")])
    assert wire.Decision.from_json(commit.to_json()) == commit
    assert wire.Decision.commit_from_json("tx-1", commit.commit_body()) == commit
    abort = wire.Decision("tx-2", "abort")
    assert wire.Decision.from_json(abort.to_json()) == abort
    assert wire.abort_reason(abort.abort_body()) == "abort"
    assert wire.abort_reason(None) == "abort"
    wound = wire.Wound([1], "taken by booking bk-0 of earlier priority")
    assert wire.abort_reason(wound.to_json()) == "preempt"
    assert wire.Wound.from_json(wound.to_json(), "c") == wound


def test_an_acknowledgement_is_a_state_or_the_refusal_it_stands_for():
    for outcome in ("committed", NotFound("unknown here"), Conflict("aborted here")):
        ack = wire.Acknowledgement.from_json(wire.Acknowledgement.of("tx-1", outcome).to_json())
        result = ack.result("b")
        if isinstance(outcome, str):
            assert result == outcome
        else:
            assert type(result) is type(outcome) and result.detail == outcome.detail
    with pytest.raises(wire.MalformedReply, match="answered 500"):
        wire.Acknowledgement("tx-1", 500, detail="boom").result("b")
    with pytest.raises(wire.MalformedReply):
        wire.Acknowledgement.from_json({"status": 200})
