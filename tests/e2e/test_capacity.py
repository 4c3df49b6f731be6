"""Three companies share one default PostgreSQL (max_connections 100) under 50 concurrent
clients booking overlapping three-company routes at random servers (README: RECARGA_DB_POOL)."""

from __future__ import annotations

import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.federation import Federation, leg

CLIENTS = 50
BOOKINGS_EACH = 3


@pytest.fixture
def fed(tmp_path):
    # the production prepare timeout: 50 clients on two shared cores queue for seconds
    f = Federation(tmp_path, RECARGA_PREPARE_TIMEOUT="5").start()
    f.stations = {
        c: f.add_station(c, place, connectors=2)
        for c, place in (("a", "recife"), ("b", "maceio"), ("c", "aracaju"))
    }
    yield f
    f.close()


def test_fifty_clients_on_three_servers_sharing_one_postgresql(fed):
    max_connections = int(fed.rows("a", "SHOW max_connections")[0]["max_connections"])
    assert max_connections <= 100  # the default this test is about
    rng = random.Random(7)
    plans = []
    for client in range(CLIENTS):
        for n in range(BOOKINGS_EACH):
            slot = rng.randrange(6)  # six slots for 150 bookings: heavy overlap
            s = fed.stations
            plans.append(
                (
                    rng.choice("abc"),
                    {
                        "car_id": f"car-{client}-{n}",
                        "legs": [
                            leg(s["a"], 60 * slot, 60 * slot + 30, rng.randrange(2)),
                            leg(s["b"], 400 + 60 * slot, 430 + 60 * slot, rng.randrange(2)),
                            leg(s["c"], 800 + 60 * slot, 830 + 60 * slot, rng.randrange(2)),
                        ],
                    },
                )
            )

    def book(plan):
        company, body = plan
        with httpx.Client(timeout=120) as http:
            r = http.post(
                f"{fed.api(company)}/bookings", json=body, headers=fed.servers[company].admin
            )
            return r.status_code, r.text[:300]

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(book, plans))
    server_errors = [r for r in results if r[0] >= 500]
    assert server_errors == [], server_errors[:5]
    assert {status for status, _ in results} <= {201, 409}
    assert any(status == 201 for status, _ in results)

    for company in "abc":
        fed.eventually(
            lambda c=company: not fed.rows(c, "SELECT id FROM reservation WHERE state = 'held'"),
            what=f"no held row left at {company}",
        )
        assert fed.overlaps(company) == []
    by_booking: dict[str, dict[str, str]] = defaultdict(dict)
    for company in "abc":
        for row in fed.reservations(company):
            by_booking[row["booking_id"]][company] = row["state"]
    confirmed = 0
    for booking, states in by_booking.items():
        if "confirmed" in states.values():
            assert states == {"a": "confirmed", "b": "confirmed", "c": "confirmed"}, booking
            confirmed += 1
        else:
            assert not {"held", "confirmed", "charging"} & set(states.values()), booking
    assert confirmed == sum(status == 201 for status, _ in results)
