"""Broker accounts: every car, station and server is only itself (docs/deploy.md, docs/mqtt.md).

The federation's Mosquitto runs its dynamic-security plugin. Each device (a car or a station)
is a client whose username is its id, with a secret of its own and a role of its own naming
only its own topics; each company server is ``server-<company>``, the only kind of account that
may read requests and station messages (shared subscriptions included); ``admin`` may only use
the plugin's control topic. Secrets are stored hashed by the broker (PBKDF2-SHA512) and shown
once, to whoever issues them; a revoked device is disconnected at once and can no longer log
in, without restarting the broker.

    recarga accounts init --companies a,b,c --cars 100 --out dynamic-security.json \\
                          --devices devices.json
        the broker's first configuration: admin and servers (passwords from $MQTT_PASSWORD_ADMIN
        and $MQTT_PASSWORD_SERVER_<COMPANY>), cars car-000… and every station id the seeds can
        make, each with a fresh secret written to devices.json (the simulated devices' own
        copy; readable by its owner only). An existing file is kept (--force replaces it).
    recarga accounts add car car-123 --broker mqtts://admin:PW@broker:8883?cafile=ca.crt
    recarga accounts add station a-recife-9 --company a --broker …
        a device's credential on the running broker; its secret is printed once
    recarga accounts revoke car-123 --broker …
    recarga accounts list --broker …
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from booking.model import make_station_id
from mqtt import address
from network.reference import load_reference
from service.company import inputs, validation

STATIONS_PER_PLACE = 4
ITERATIONS = 101  # the dynamic-security plugin's own (Mosquitto 2.0)
STATION_ID = "^[a-z0-9][a-z0-9-]{0,63}$"  # the contract's StationId
CONTROL = "$CONTROL/dynamic-security/v1"
KINDS = ("car", "station")


def _acl(kind: str, topic: str) -> dict:
    return {"acltype": kind, "topic": topic, "allow": True}


def device_acls(kind: str, device: str, company: str | None = None) -> list[dict]:
    """A car's or a station's own topics, and nothing else (no wildcard in ``device``)."""
    if kind == "car":
        if not inputs.is_car_id(device):
            raise ValueError(f"{device!r} is not a car id ({inputs.CAR_ID})")
        mine = f"recarga/+/cars/{device}"  # a car books at any company
        return [
            _acl("publishClientSend", f"{mine}/req/+"),
            _acl("publishClientSend", f"{mine}/telemetry"),
            _acl("subscribePattern", f"{mine}/res"),
            _acl("subscribePattern", f"{mine}/res/#"),
            _acl("subscribePattern", f"{mine}/events"),
        ]
    if kind == "station":
        if not validation.matches(STATION_ID, device):
            raise ValueError(f"{device!r} is not a station id ({STATION_ID})")
        if not company or not validation.matches("^[a-z][a-z0-9-]{0,31}$", company):
            raise ValueError("a station's credential names its company")
        mine = f"recarga/{company}/stations/{device}"
        return [
            _acl("publishClientSend", f"{mine}/birth"),
            _acl("publishClientSend", f"{mine}/status"),
            _acl("subscribePattern", f"{mine}/status"),
            _acl("subscribePattern", f"{mine}/schedule"),
        ]
    raise ValueError(f"a device is a car or a station, not {kind!r}")


def server_acls(company: str) -> list[dict]:
    """A company server: its own tree (the requests to it included, shared or not) and pushes
    to any car (a station going offline tells the cars that booked through another company).
    Mosquitto 2.0 checks a shared subscription with its ``$share/<group>/`` prefix, later
    versions without it: both forms are granted, for the server's own group only."""
    tree = f"recarga/{company}/#"
    return [
        _acl("publishClientSend", tree),
        _acl("publishClientSend", "recarga/+/cars/+/events"),
        _acl("subscribePattern", tree),
        _acl("subscribePattern", f"$share/recarga-{company}/{tree}"),
    ]


def admin_acls() -> list[dict]:
    return [
        _acl(kind, f"{CONTROL.rsplit('/', 1)[0]}/#")
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
    ]


def hashed(secret: str) -> dict:
    """The plugin's stored form of a password: PBKDF2-SHA512 over a random salt."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def simulated_cars(n: int) -> list[str]:
    """The simulated fleet's car ids (``carsim.fleet``), the accounts ``init`` makes for them."""
    return [f"car-{i:03d}" for i in range(n)]


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def document(
    companies: list[str], cars: int, server_password: dict[str, str], admin_password: str
) -> tuple[dict, dict[str, str]]:
    """The plugin's configuration for a federation, and the devices' secrets."""
    clients, roles, devices = [], [], {}

    def account(username: str, password: str, acls: list[dict], text: str) -> None:
        roles.append({"rolename": username, "acls": acls})
        clients.append(
            {
                "username": username,
                "textName": text,
                **hashed(password),
                "roles": [{"rolename": username}],
            }
        )

    account("admin", admin_password, admin_acls(), "the broker's administrator")
    for c in companies:
        account(f"server-{c}", server_password[c], server_acls(c), f"company {c}'s servers")
    for car in simulated_cars(cars):
        devices[car] = new_secret()
        account(car, devices[car], device_acls("car", car), "simulated car")
    for c in companies:
        for place in load_reference().network.places:
            for n in range(1, STATIONS_PER_PLACE + 1):
                station = make_station_id(c, place, n)
                devices[station] = new_secret()
                account(
                    station,
                    devices[station],
                    device_acls("station", station, c),
                    f"station of company {c}",
                )
    return (
        {
            "clients": clients,
            "roles": roles,
            "groups": [],
            "defaultACLAccess": {
                "publishClientSend": False,
                "publishClientReceive": True,
                "subscribe": False,
                "unsubscribe": True,
            },
        },
        devices,
    )


def write_private(path: str, data: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)


class BrokerError(RuntimeError):
    pass


class Admin:
    """The plugin's control topic, as ``admin``: one JSON command list, one answer."""

    def __init__(self, url: str, timeout: float = 10):
        where = address.broker(url)
        self.timeout = timeout
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"recarga-accounts-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        address.configure(self.client, where)
        self._ready, self._answered = threading.Event(), threading.Event()
        self._refused: str | None = None
        self._answer: dict = {}
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(where.host, where.port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(timeout):
            self.close()
            raise BrokerError(f"the broker refused the admin ({self._refused or 'no answer'})")

    def _on_connect(self, client, _u, _f, reason_code, _p):
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        client.subscribe(f"{CONTROL}/response", qos=1)

    def _on_message(self, _c, _u, msg):
        try:
            self._answer = json.loads(msg.payload)
        except ValueError:
            self._answer = {}
        self._answered.set()

    def run(self, *commands: dict) -> list[dict]:
        self._answered.clear()
        self.client.publish(CONTROL, json.dumps({"commands": list(commands)}), qos=1)
        if not self._answered.wait(self.timeout):
            raise BrokerError(
                "the broker did not answer (is the dynamic-security plugin on, "
                "and is this the admin's password?)"
            )
        answers = self._answer.get("responses", [])
        errors = [f"{a.get('command')}: {a['error']}" for a in answers if a.get("error")]
        if errors:
            raise BrokerError("; ".join(errors))
        return answers

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def add(admin: Admin, kind: str, device: str, company: str | None = None) -> str:
    """A new device credential on the running broker; returns its secret (shown once)."""
    acls = device_acls(kind, device, company)
    secret = new_secret()
    admin.run({"command": "createRole", "rolename": device, "acls": acls})
    try:
        admin.run(
            {
                "command": "createClient",
                "username": device,
                "password": secret,
                "textname": f"{kind}" + (f" of company {company}" if company else ""),
                "roles": [{"rolename": device}],
            }
        )
    except BrokerError:
        admin.run({"command": "deleteRole", "rolename": device})
        raise
    return secret


def revoke(admin: Admin, device: str) -> None:
    """Delete the device's client (the broker disconnects it at once) and its role."""
    admin.run({"command": "deleteClient", "username": device})
    admin.run({"command": "deleteRole", "rolename": device})


def listed(admin: Admin) -> list[str]:
    [answer] = admin.run({"command": "listClients", "verbose": False, "count": -1, "offset": 0})
    return sorted(answer.get("data", {}).get("clients", []))


def _init(args) -> int:
    if os.path.exists(args.out) and not args.force:
        print(f"kept {args.out} (its accounts may have changed since; --force replaces it)")
        return 0
    companies = [c for c in args.companies.split(",") if c]
    servers = {c: os.environ.get(f"MQTT_PASSWORD_SERVER_{c.upper()}", "") for c in companies}
    admin = os.environ.get("MQTT_PASSWORD_ADMIN", "")
    missing = [f"MQTT_PASSWORD_SERVER_{c.upper()}" for c, p in servers.items() if not p]
    missing += [] if admin else ["MQTT_PASSWORD_ADMIN"]
    if missing:
        print(f"recarga accounts: set {', '.join(missing)}", file=sys.stderr)
        return 2
    config, devices = document(companies, args.cars, servers, admin)
    write_private(args.devices, devices)
    write_private(args.out, config)
    print(
        f"wrote {args.out} ({len(config['clients'])} accounts) and {args.devices} "
        f"({len(devices)} device secrets)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recarga accounts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="the broker's first configuration (a file)")
    init.add_argument("--companies", default="a,b,c")
    init.add_argument("--cars", type=int, default=100)
    init.add_argument("--out", required=True, help="the plugin's configuration file to write")
    init.add_argument("--devices", required=True, help="where the devices' secrets go (JSON)")
    init.add_argument("--force", action="store_true", help="replace an existing --out")
    broker_help = "the broker as admin: mqtts://admin:PASSWORD@host:8883?cafile=ca.crt"
    new = sub.add_parser("add", help="a device's credential, on the running broker")
    new.add_argument("kind", choices=KINDS)
    new.add_argument("device", help="the car's or station's id (its MQTT username)")
    new.add_argument("--company", help="a station's company")
    new.add_argument("--broker", required=True, help=broker_help)
    gone = sub.add_parser("revoke", help="delete a device's credential; it is disconnected")
    gone.add_argument("device")
    gone.add_argument("--broker", required=True, help=broker_help)
    every = sub.add_parser("list", help="the broker's accounts")
    every.add_argument("--broker", required=True, help=broker_help)
    args = parser.parse_args(argv)
    if args.command == "init":
        return _init(args)
    try:
        if args.command == "add":
            device_acls(args.kind, args.device, args.company)  # refused before connecting
        admin = Admin(args.broker)
        try:
            if args.command == "add":
                secret = add(admin, args.kind, args.device, args.company)
                print(f"{args.device} {secret}")
                print(
                    "(the secret is shown this once; the broker keeps only its hash)",
                    file=sys.stderr,
                )
            elif args.command == "revoke":
                revoke(admin, args.device)
                print(f"revoked {args.device}")
            else:
                print("\n".join(listed(admin)))
        finally:
            admin.close()
    except (ValueError, BrokerError, OSError) as exc:
        print(f"recarga accounts: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
