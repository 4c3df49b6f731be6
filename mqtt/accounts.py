"""Broker accounts for a federation: one MQTT username per identity (docker/mosquitto/acl).

Writes ``username:password`` lines for ``mosquitto_passwd -U`` (which hashes them in place):
``server-<company>`` for each company server, ``car-000``… for simulated cars, and every
station id the companies' seeds can create on the reference network (``<company>-<place>-<n>``).
Simulated cars and stations share one password; their usernames still confine each to its own
topics. Real cars and stations get their own passwords the same way.

    python -m mqtt.accounts --companies a,b,c --cars 100 --out passwords.txt
"""

from __future__ import annotations

import argparse
import os
import sys

from booking.model import make_station_id
from network.reference import load_reference

STATIONS_PER_PLACE = 4


def accounts(companies: list[str], cars: int, server_password: dict[str, str],
             sim_password: str) -> list[tuple[str, str]]:
    out = [(f"server-{c}", server_password[c]) for c in companies]
    out += [(f"car-{i:03d}", sim_password) for i in range(cars)]
    places = list(load_reference().network.places)
    out += [(make_station_id(c, p, n), sim_password) for c in companies for p in places
            for n in range(1, STATIONS_PER_PLACE + 1)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mqtt.accounts", description=__doc__)
    parser.add_argument("--companies", default="a,b,c")
    parser.add_argument("--cars", type=int, default=100)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    companies = [c for c in args.companies.split(",") if c]
    servers = {c: os.environ.get(f"MQTT_PASSWORD_SERVER_{c.upper()}", "") for c in companies}
    sim = os.environ.get("MQTT_PASSWORD_SIM", "")
    missing = [f"MQTT_PASSWORD_SERVER_{c.upper()}" for c, p in servers.items() if not p]
    if missing or not sim:
        print(f"set {', '.join(missing + ([] if sim else ['MQTT_PASSWORD_SIM']))}",
              file=sys.stderr)
        return 2
    with open(args.out, "w") as f:
        for user, password in accounts(companies, args.cars, servers, sim):
            f.write(f"{user}:{password}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
