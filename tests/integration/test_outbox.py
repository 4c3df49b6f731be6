"""Phase two coalesced: decisions queued for one company while a round to it is in flight
leave together in one POST /decisions, and every one of them is confirmed there."""

from __future__ import annotations

import json

from tests.federation import Federation, leg


def _requests_to(fed, holder: str, company: str) -> int:
    return fed.peer(holder, company)["traffic"]["requests"]


def test_decisions_queued_behind_a_round_leave_together_and_all_commit(tmp_path):
    # only the booking's requests are counted: no periodic catalog round during the test,
    # and the copy of B's catalog has caught up with B's new station before counting starts
    fed = Federation(
        tmp_path,
        companies=("a", "b"),
        faults={"a": "outbox_round@b"},
        in_process=True,
        RECARGA_CATALOG_SYNC_SECONDS="3600",
    ).start()
    try:
        sa, sb = (
            fed.add_station("a", "recife", connectors=3),
            fed.add_station("b", "maceio", connectors=3),
        )
        fed.eventually(
            lambda: fed.peer("a", "b")["catalog"]["stations"] == 1,
            what="A's copy of B's catalog holding B's station",
        )
        before = _requests_to(fed, "a", "b")
        ids = []
        for n in range(3):
            r = fed.book(
                "a",
                {
                    "car_id": f"car-{n}",
                    "legs": [leg(sa, 60, 90, connector=n), leg(sb, 300, 330, connector=n)],
                },
            )
            assert r.status_code == 201, r.text  # answered though B has heard nothing yet
            ids.append(r.json()["booking_id"])
            if n == 0:
                fed.wait_reached("outbox_round@b")  # the first round to B is held here
        # A's own commits are not held back: once each booking's is done, its message to B
        # is queued too (both are queued together), behind the held round
        fed.eventually(
            lambda: [r["state"] for r in fed.reservations("a")] == ["confirmed"] * 3,
            what="A's own legs confirmed",
        )
        assert [r["state"] for r in fed.reservations("b")] == ["held"] * 3
        fed.release("outbox_round@b")
        for booking_id in ids:
            fed.phase_two_done("a", booking_id)
        assert sorted(r["state"] for r in fed.reservations("b")) == ["confirmed"] * 3
        # to B: three prepares, then the first round (one commit) and one round for the other
        # two together — five requests, not six — plus this check's own health probe
        assert _requests_to(fed, "a", "b") - before == 3 + 2 + 1
    finally:
        fed.close()


def test_a_booking_s_acknowledgements_from_its_peers_are_logged_in_one_write(tmp_path):
    """B's commit comes back while C's round is held: B's acknowledgement waits for C's, and
    both go into the coordinator's log in one database transaction."""
    fed = Federation(tmp_path, faults={"a": "outbox_round@c"}, in_process=True).start()
    try:
        stations = [
            fed.add_station(c, p)
            for c, p in zip("abc", ("recife", "maceio", "aracaju"), strict=True)
        ]
        outbox = fed.servers["a"].value.ctx.outbox
        writes = outbox.log_writes
        r = fed.book(
            "a",
            {
                "car_id": "car-1",
                "legs": [leg(s, 60 + 240 * k, 90 + 240 * k) for k, s in enumerate(stations)],
            },
        )
        assert r.status_code == 201, r.text
        booking_id = r.json()["booking_id"]
        fed.wait_reached("outbox_round@c")  # the round to C is held here
        fed.eventually(
            lambda: [x["state"] for x in fed.reservations("b")] == ["confirmed"],
            what="B's commit delivered",
        )
        [logged] = fed.rows("a", "SELECT acks, open FROM coordinator_tx")
        # B acknowledged only its prepare so far in the log, as C
        assert json.loads(logged["acks"]) == {"a": "commit", "b": "prepare", "c": "prepare"}
        assert logged["open"]
        fed.release("outbox_round@c")
        fed.phase_two_done("a", booking_id)
        [logged] = fed.rows("a", "SELECT acks, open FROM coordinator_tx")
        assert json.loads(logged["acks"]) == {"a": "commit", "b": "commit", "c": "commit"}
        assert outbox.log_writes - writes == 1
        assert [x["state"] for x in fed.reservations("c")] == ["confirmed"]
    finally:
        fed.close()
