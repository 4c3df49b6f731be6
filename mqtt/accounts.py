"""Broker accounts for a federation: one MQTT username per identity (docker/mosquitto/acl).

Writes a Mosquitto password file, already hashed the way ``mosquitto_passwd`` does it
(PBKDF2-SHA512, ``$7$``), so no plain password is ever stored: ``server-<company>`` for each
company server, ``car-000``… for simulated cars, and every station id the companies' seeds can
create on the reference network (``<company>-<place>-<n>``). Simulated cars and stations share
one password; their usernames still confine each to its own topics. Real cars and stations get
their own passwords the same way. The file is created readable by its owner only.

    recarga accounts --companies a,b,c --cars 100 --out passwords
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import secrets
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


ITERATIONS = 101  # mosquitto_passwd's default for $7$ (Mosquitto 2.0)


def hashed(password: str) -> str:
    """A Mosquitto 2 password hash: ``$7$<iterations>$<salt>$<PBKDF2-SHA512>`` in base64."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return (f"$7${ITERATIONS}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recarga accounts", description=__doc__)
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
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        for user, password in accounts(companies, args.cars, servers, sim):
            f.write(f"{user}:{hashed(password)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
