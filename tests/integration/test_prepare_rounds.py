"""Prepares coalesced under load: prepares to one company queued while a round to it is in
flight leave together in one POST /prepares, each voted on alone — one refused among several
refuses only its own booking, the others commit everywhere."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.federation import Federation, leg


def test_prepares_queued_behind_a_round_leave_together_and_one_refusal_stays_its_own(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="service.protocol.participant")
    # a long prepare timeout: prepares wait for the held round up to a tenth of it (6 s)
    fed = Federation(
        tmp_path,
        companies=("a", "b"),
        faults={"a": "prepare_round@b"},
        in_process=True,
        RECARGA_PREPARE_TIMEOUT="60",
        RECARGA_CATALOG_SYNC_SECONDS="3600",
    ).start()
    try:
        sa = fed.add_station("a", "recife", connectors=4)
        sb = fed.add_station("b", "maceio", connectors=4)
        fed.eventually(
            lambda: fed.peer("a", "b")["catalog"]["stations"] == 1,
            what="A's copy of B's catalog holding B's station",
        )
        # B's connector 2 is taken in the window car-2 will ask for
        taken = fed.book("b", {"car_id": "car-x", "legs": [leg(sb, 300, 330, connector=2)]})
        assert taken.status_code == 201, taken.text

        def book(n: int) -> httpx.Response:
            return fed.book(
                "a",
                {
                    "car_id": f"car-{n}",
                    "legs": [leg(sa, 60, 90, connector=n), leg(sb, 300, 330, connector=n)],
                },
                timeout=90,
            )

        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(book, 0)
            fed.wait_reached("prepare_round@b")  # the first round to B is held here
            later = [pool.submit(book, n) for n in (1, 2, 3)]
            fed.eventually(
                lambda: fed.peer("a", "b")["traffic"]["prepares_queued"] == 3,
                what="three prepares to B queued behind the held round",
            )
            fed.release("prepare_round@b")
            answers = [f.result(timeout=90) for f in [first, *later]]
        assert [r.status_code for r in answers] == [201, 201, 409, 201], [r.text for r in answers]
        refused = answers[2].json()
        assert [(c["leg_index"], c["connector_id"]) for c in refused["conflicts"]] == [
            (1, sb["connectors"][2]["id"])
        ]
        # B voted on the three in one round (B is the only participant asked by a peer here)
        rounds = [r.getMessage() for r in caplog.records if "in one round" in r.getMessage()]
        assert rounds == ["prepares of 3 transactions in one round"], rounds
        assert fed.peer("a", "b")["traffic"]["prepares_queued"] == 0
        booked = [answers[n].json()["booking_id"] for n in (0, 1, 3)]
        for booking_id in booked:
            fed.phase_two_done("a", booking_id)
        for company in ("a", "b"):
            for booking_id in booked:
                assert [r["state"] for r in fed.reservations(company, booking_id)] == [
                    "confirmed"
                ], (company, booking_id)
            assert fed.overlaps(company) == []
        fed.phase_two_done("a")
        refused_id = refused["booking_id"]
        assert fed.reservations("a", refused_id, active=True) == []
        assert fed.reservations("b", refused_id, active=True) == []
    finally:
        fed.close()
