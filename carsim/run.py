"""Simulated cars doing full trips over MQTT, on the world's clock (SPEC §7).

Each car: plan at its home company, pick an option, book it (on a conflict: in hold mode take
the offered alternatives, otherwise plan again; give up after three tries), then leave at its
departure and drive with telemetry — the fleet's physics stepped together with numpy — wait at
each stop for its window, charge in it (telling the station's company: start, finish), and
finish the trip. Time is the world's (``booking.clock``): the demo's clock, shared with the
servers (``--clock``, default ``$RECARGA_DEMO_CLOCK``), runs it faster, so sessions happen
inside their windows as the servers see them. Stations of every company run as MQTT
clients beside the cars. A progress line while it runs; a summary at the end, whose last line is
one JSON object.

    python -m carsim --url mqtt://127.0.0.1:1883 --companies a,b,c --cars 30 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

from booking.clock import Clock, ScaledClock, clock_from
from booking.model import place_of_station
from carsim.fleet import Fleet
from carsim.station import StationLink
from mqtt.accounts import simulated_cars
from mqtt.rpc import CarLink, NoResponse
from network.distances import RoadDistances
from network.reference import load_reference
from service.company.inputs import iso, parse_time

TRIPS = [
    ("joao-pessoa", "feira-de-santana"),
    ("recife", "salvador"),
    ("natal", "maceio"),
    ("fortaleza", "recife"),
    ("maceio", "feira-de-santana"),
    ("aracaju", "joao-pessoa"),
    ("campina-grande", "aracaju"),
    ("recife", "aracaju"),
    ("natal", "recife"),
    ("salvador", "maceio"),
    ("caruaru", "salvador"),
    ("joao-pessoa", "maceio"),
]
TICK_S = 0.1  # real seconds between physics steps (each advances the world's time passed)
# a car leaves this long after it books, at the earliest: every car has booked by then (the
# physics starts once all have), so none leaves late
DEPART_AFTER = timedelta(hours=3)
DEPARTURES_OVER = 120  # minutes over which the cars' departures are spread
RESERVE = 0.1  # the state of charge every car keeps when it plans


ACTIVE = ("waiting", "driving", "queued", "charging")


@dataclass
class Trip:
    index: int
    car_id: str
    company: str
    origin: str
    destination: str
    delay_min: int  # after the earliest departure (DEPART_AFTER from booking)
    departure: datetime | None = None
    # planning, waiting (to leave), driving, queued (at a stop, before its window), charging,
    # done, gave_up, stranded, unfinished (the demo's clock caught up with real time first)
    state: str = "planning"
    charge_until: datetime | None = None
    option: dict | None = None
    booking_id: str | None = None
    segments: list[tuple[str, str, float]] = field(default_factory=list)  # from, to, km
    segment: int = 0
    km_left: float = 0.0
    charge_left_min: float = 0.0
    charge_target: float = 0.8
    charge_rate: float = 0.0  # state of charge per simulated minute while charging
    conflicts: int = 0
    conflict_outcome: str | None = None
    gave_up_because: str | None = None
    trace: list[tuple[float, float]] = field(default_factory=list)  # (sim minutes, soc)
    events: list[dict] = field(default_factory=list)


def _booked(trip: Trip) -> dict:
    """The option a car booked (set before it drives: only a booked trip is driven)."""
    if trip.option is None:
        raise RuntimeError(f"car {trip.car_id} drives without a booked option")
    return trip.option


class Simulation:
    def __init__(
        self,
        url: str,
        companies: list[str],
        n_cars: int,
        seed: int,
        clock: Clock,
        hold_share: float = 0.3,
        credentials: dict[str, str] | None = None,
    ):
        self.url, self.companies = url, companies
        # device id -> its own secret (`recarga accounts init --devices`); each client's
        # username is its id. None: a broker that asks for no credential (the local demo).
        self.credentials = credentials
        self.ref = load_reference()
        self.dist = RoadDistances(self.ref.network)
        self.rng = random.Random(seed)
        self.fleet = Fleet.draw(n_cars, self.ref.vehicles, np.random.default_rng(seed))
        self.clock = clock
        self.hold_share = hold_share
        # each car gets a trip its range can make: with a charger at every place of the trip's
        # corridor (the demo seeds one at every place), some sequence of stops has no drive
        # longer than the car plans to go between charges keeping its reserve, so every trip
        # can be planned; a car too weak for every trip would be given one anyway, and say so
        hops = {
            trip: self.dist.longest_hop(*trip, self.dist.corridor(*trip) or []) for trip in TRIPS
        }
        usable = (1.0 - RESERVE) * self.fleet.battery_kwh / self.fleet.planning_consumption()
        self.trips = []
        for i, car_id in enumerate(self.fleet.ids):
            origin, destination = self.rng.choice(
                [t for t in TRIPS if hops[t] <= usable[i]] or TRIPS
            )
            self.trips.append(
                Trip(
                    i,
                    car_id,
                    self.rng.choice(companies),
                    origin,
                    destination,
                    self.rng.randrange(0, DEPARTURES_OVER, 5),
                )
            )
        self.links: dict[str, CarLink] = {}
        self.stations: dict[str, StationLink] = {}
        self.counts: Counter = Counter()
        self.refusals: Counter = Counter()
        self.lock = threading.Lock()
        self.world_span: list[datetime | None] = [None, None]  # first booking, last step

    # -- stations ---------------------------------------------------------------------------

    def start_stations(self, apis: dict[str, str]) -> None:
        """Every company's stations as MQTT clients (birth, retained status, Last Will)."""
        for company, api in apis.items():
            items = httpx.get(f"{api}/stations", params={"limit": 1000}, timeout=30).json()["items"]
            for s in items:
                if self.credentials is not None and s["id"] not in self.credentials:
                    self.counts["stations without a credential"] += 1  # not simulated
                    continue
                self.stations[s["id"]] = StationLink(
                    self.url, company, s["id"], **self._auth(s["id"])
                )
        for link in self.stations.values():
            link.connected.wait(10)

    # -- booking ----------------------------------------------------------------------------

    def book(self, trip: Trip) -> None:
        link = self.links[trip.car_id]
        i = trip.index
        vehicle = {
            "model_id": self.fleet.model_ids[i],
            "soc": round(float(self.fleet.soc[i]), 3),
            "consumption_kwh_per_km": round(float(self.fleet.planning_consumption()[i]), 4),
        }
        hold = self.rng.random() < self.hold_share
        # the departure is set when the car books, from the world's now: its first window is
        # still ahead however long the other cars took to book
        trip.departure = (
            self.clock.now() + DEPART_AFTER + timedelta(minutes=trip.delay_min)
        ).replace(second=0, microsecond=0)
        for _attempt in range(3):
            plan = link.call(
                "plan",
                {
                    "origin": trip.origin,
                    "destination": trip.destination,
                    "departure": iso(trip.departure),
                    "vehicle": vehicle,
                    "reserve_soc": RESERVE,
                    "options": 3,
                },
            )
            options = plan.get("body", {}).get("options", []) if plan["ok"] else []
            if not options:
                trip.state = "gave_up"
                trip.gave_up_because = plan.get("body", {}).get("infeasible") or str(
                    plan.get("error", {}).get("detail", "no plan")
                )
                return
            option = options[0] if self.rng.random() < 0.8 else self.rng.choice(options)
            if not option["legs"]:
                trip.option = option
                return
            answer = link.call(
                "book",
                {
                    "legs": option["legs"],
                    "trip": plan["body"]["trip"],
                    "mode": "hold" if hold else "default",
                },
            )
            if answer["status"] == 201:
                trip.option, trip.booking_id = option, answer["body"]["booking_id"]
                if trip.conflicts:
                    trip.conflict_outcome = "re-planned"
                return
            if answer["status"] != 409:
                trip.gave_up_because = f"booking answered {answer['status']}"
                continue
            trip.conflicts += 1
            problem = answer.get("error") or answer.get("body") or {}
            if hold and problem.get("state") == "held":
                if self._choose(trip, option, problem):
                    return
                # no workable alternative: release what is held before planning again (it
                # would otherwise block other cars until the hold expires)
                link.call("cancel", {"booking_id": problem["booking_id"]})
        trip.state = "gave_up"
        if trip.conflicts:
            trip.conflict_outcome = "gave up after 3 tries"
            trip.gave_up_because = trip.gave_up_because or "every booking attempt met a conflict"

    def _choose(self, trip: Trip, option: dict, problem: dict) -> bool:
        """Hold mode: take the first alternative of each refused leg (same place, near time)."""
        replacements = []
        for conflict in problem.get("conflicts", []):
            if not conflict["alternatives"]:
                return False
            alt = conflict["alternatives"][0]
            replacements.append(
                {
                    "leg_index": conflict["leg_index"],
                    **{
                        k: alt[k] for k in ("company", "station_id", "connector_id", "start", "end")
                    },
                }
            )
        answer = self.links[trip.car_id].call(
            "choose", {"booking_id": problem["booking_id"], "legs": replacements}
        )
        if answer["status"] != 200:
            return False
        legs = {leg["leg_index"]: leg for leg in answer["body"]["legs"]}
        option = dict(option)
        option["legs"] = [legs[i] for i in sorted(legs)]
        trip.option, trip.booking_id = option, problem["booking_id"]
        trip.conflict_outcome = "took an alternative"
        return True

    # -- driving ----------------------------------------------------------------------------

    def prepare_route(self, trip: Trip) -> None:
        # the booked legs' places (after a replacement a station may differ from the plan's)
        via = [self._place(leg) for leg in _booked(trip)["legs"]]
        places = [trip.origin, *via, trip.destination]
        trip.segments = []
        for a, b in zip(places, places[1:], strict=False):
            trip.segments.append((a, b, self.dist.between(a, b)))
        trip.segment, trip.km_left, trip.state = 0, trip.segments[0][2], "waiting"

    def _place(self, leg: dict) -> str:
        return place_of_station(leg["company"], leg["station_id"])

    def run_physics(self, progress) -> None:
        """Step every car together on the world's clock until all trips end: each step
        advances them by the world's time passed since the last one."""
        f = self.fleet
        began = last = self.clock.now()
        last_telemetry = 0.0
        while any(t.state in ACTIVE for t in self.trips):
            time.sleep(TICK_S)
            now = self.clock.now()
            minutes = (now - last).total_seconds() / 60.0
            last = now
            if isinstance(self.clock, ScaledClock) and datetime.now(UTC) >= self.clock.caught_up_at:
                for t in self.trips:  # the world is real time again: the rest would take hours
                    if t.state in ACTIVE:
                        t.state = "unfinished"
                break
            for t in self.trips:
                if t.state == "waiting" and t.departure is not None and now >= t.departure:
                    t.state = "driving"
            moving = np.array([t.state == "driving" for t in self.trips], dtype=float)
            km, speed = f.drive(moving, minutes)
            elapsed = (now - began).total_seconds() / 60.0
            for t in self.trips:
                i = t.index
                if t.state == "driving":
                    t.km_left -= km[i]
                    if f.soc[i] <= 0.0:
                        t.state = "stranded"
                    elif t.km_left <= 0:
                        self._arrive(t)
                if t.state == "queued" and now >= self._window(t)[0]:
                    self._plug_in(t, now)
                elif t.state == "charging":
                    f.soc[i] = min(t.charge_target, f.soc[i] + t.charge_rate * minutes)
                    if t.charge_until is not None and now >= t.charge_until:
                        self._leave(t)
                if t.state in ("driving", "queued", "charging"):
                    t.trace.append((elapsed, float(f.soc[i])))
            self.world_span[1] = now
            real = time.monotonic()
            if real - last_telemetry >= 1.0:  # 1 Hz of wall time per car
                last_telemetry = real
                for t in self.trips:
                    if t.state in ("driving", "queued", "charging"):
                        place = self.ref.network.places[t.segments[t.segment][0]]
                        self.links[t.car_id].telemetry(
                            float(f.soc[t.index]), place.lat, place.lon, float(speed[t.index])
                        )
            progress(sum(t.state not in ACTIVE for t in self.trips))

    def _window(self, t: Trip) -> tuple[datetime, datetime]:
        leg = _booked(t)["legs"][t.segment]
        return parse_time(leg["start"], "start"), parse_time(leg["end"], "end")

    def _arrive(self, t: Trip) -> None:
        """At the destination, or at a stop: there the car waits for its window."""
        if t.segment == len(t.segments) - 1:
            t.state = "done"
            if t.booking_id:
                self.links[t.car_id].call("trip_finish", {"booking_id": t.booking_id})
            return
        t.state = "queued"

    def _plug_in(self, t: Trip, now: datetime) -> None:
        """The window has begun: start the session, charge what the plan said, within it."""
        leg = _booked(t)["legs"][t.segment]
        station = self.stations.get(leg["station_id"])
        if station:
            station.set_status("charging")
        answer = self._at_station(t, leg, "charge_start")
        with self.lock:
            self.counts[f"legs_{leg['company']}"] += 1
            if not answer.get("ok"):
                self.counts["charge_refused"] += 1
                self.refusals[str(answer.get("error", {}).get("detail", "no answer"))] += 1
        stops = _booked(t)["stops"]
        stop = stops[t.segment] if t.segment < len(stops) else None
        t.charge_target = stop["soc_target"] if stop else 0.8
        # the planner's physical charging time (taper above 80 %, AC limited by the car),
        # never past the window
        minutes = max(1.0, stop["charge_minutes"] if stop else 30.0)
        t.charge_until = min(now + timedelta(minutes=minutes), self._window(t)[1])
        t.charge_rate = max(0.0, t.charge_target - float(self.fleet.soc[t.index])) / minutes
        t.state = "charging"

    def _leave(self, t: Trip) -> None:
        leg = _booked(t)["legs"][t.segment]
        self.fleet.soc[t.index] = max(float(self.fleet.soc[t.index]), t.charge_target)
        self._at_station(t, leg, "charge_finish")
        station = self.stations.get(leg["station_id"])
        if station:
            station.set_status("available")
        t.segment += 1
        t.km_left, t.state, t.charge_until = t.segments[t.segment][2], "driving", None

    def _at_station(self, t: Trip, leg: dict, op: str) -> dict:
        """Charging is reported to the station's company, on that company's topic tree."""
        key = t.car_id if leg["company"] == t.company else f"{t.car_id}@{leg['company']}"
        with self.lock:
            link = self.links.get(key)
            if link is None:
                link = CarLink(
                    self.url,
                    leg["company"],
                    t.car_id,
                    clean=True,
                    client_id=f"{t.car_id}-at-{leg['company']}",
                    **self._auth(t.car_id),
                )
                self.links[key] = link
        link.wait_connected()
        try:
            return link.call(
                op, {"booking_id": t.booking_id, "connector_id": leg["connector_id"]}, timeout=10
            )
        except NoResponse:
            return {"ok": False}

    def _auth(self, device: str) -> dict:
        if self.credentials is None:
            return {}
        return {"username": device, "password": self.credentials[device]}

    # -- the whole run ----------------------------------------------------------------------

    def run(self, apis: dict[str, str]) -> dict:
        self.start_stations(apis)
        for t in self.trips:
            self.links[t.car_id] = CarLink(
                self.url, t.company, t.car_id, client_id=t.car_id, **self._auth(t.car_id)
            )
        for link in list(self.links.values()):
            link.wait_connected()
        bar = Progress(len(self.trips))
        self.world_span[0] = self.clock.now()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self.book, self.trips))
        for t in self.trips:
            if t.state == "planning" and t.option is not None:
                self.prepare_route(t)
        self.run_physics(bar)
        bar.done()
        return self.summary()

    def summary(self) -> dict:
        states = Counter(t.state for t in self.trips)
        conflicts = Counter(t.conflict_outcome for t in self.trips if t.conflicts)
        per_company = {
            c: {
                "cars": sum(t.company == c for t in self.trips),
                "legs_charged": self.counts[f"legs_{c}"],
            }
            for c in self.companies
        }
        return {
            "cars": len(self.trips),
            "trips_completed": states["done"],
            "stranded": states["stranded"],
            "gave_up": states["gave_up"],
            "unfinished": states["unfinished"],
            "clock": str(self.clock),
            **self._world_hours(),
            "gave_up_because": dict(
                Counter(t.gave_up_because for t in self.trips if t.state == "gave_up")
            ),
            "conflicts": sum(t.conflicts for t in self.trips),
            "conflict_outcomes": dict(conflicts),
            "charge_refused": self.counts["charge_refused"],
            "charge_refused_because": dict(self.refusals),
            "per_company": per_company,
        }

    def _world_hours(self) -> dict:
        """The world's hours the run took (first booking to the last trip's end) and, on the
        demo's clock, how many it had left before it caught up with real time (at none, the
        trips still on the road count as unfinished)."""
        began, ended = self.world_span
        if began is None or ended is None:
            return {}
        hours = {"world_hours": round((ended - began).total_seconds() / 3600, 2)}
        if isinstance(self.clock, ScaledClock):
            real_at_end = self.clock.caught_up_at  # the world's time then is that moment
            hours["world_hours_to_spare"] = round(
                max(0.0, (real_at_end - ended).total_seconds()) / 3600, 2
            )
        return hours

    def plot(self, path: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(11, 6))
        for t in self.trips:
            if t.trace:
                xs, ys = zip(*t.trace, strict=True)
                ax.plot(np.array(xs) / 60, ys, lw=1)
        ax.axhline(0.1, color="red", ls="--", lw=1, label="reserve (10 %)")
        ax.set_xlabel("hours after the first departure")
        ax.set_ylabel("state of charge")
        ax.set_title("Simulated cars: state of charge (rises are charging stops)")
        ax.legend()
        fig.savefig(path, dpi=110)

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        for station in self.stations.values():
            # the simulation is over, the stations are not broken: they stay bookable for
            # whoever explores the federation afterwards (make demo --keep, make containers)
            station.close(final_status="available")


class Progress:
    def __init__(self, total: int):
        self.total, self.last = total, -1

    def __call__(self, finished: int) -> None:
        if finished != self.last and sys.stderr.isatty():
            filled = int(30 * finished / max(self.total, 1))
            print(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {finished}/{self.total} trips",
                end="",
                file=sys.stderr,
                flush=True,
            )
        self.last = finished

    def done(self) -> None:
        if sys.stderr.isatty():
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carsim", description=__doc__)
    parser.add_argument("--url", required=True, help="mqtt://host:port of the broker")
    parser.add_argument(
        "--companies",
        required=True,
        help="company=http://host:port,… (their REST API, to list stations)",
    )
    parser.add_argument("--cars", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--clock",
        default=os.environ.get("RECARGA_DEMO_CLOCK", ""),
        help="the world's clock the servers run on (booking.clock; default "
        "$RECARGA_DEMO_CLOCK; none: real time, trips last hours)",
    )
    parser.add_argument("--plot", help="save state-of-charge traces to this PNG")
    parser.add_argument(
        "--credentials",
        default=os.environ.get("RECARGA_DEVICE_CREDENTIALS"),
        help="a JSON file of device id -> secret (`recarga accounts init "
        "--devices`; default $RECARGA_DEVICE_CREDENTIALS): each car and "
        "station logs in as itself",
    )
    args = parser.parse_args(argv)
    credentials = None
    if args.credentials:
        try:
            with open(args.credentials) as f:
                credentials = json.load(f)
        except (OSError, ValueError) as exc:
            parser.error(f"--credentials {args.credentials}: {exc}")
        missing = [car for car in simulated_cars(args.cars) if car not in credentials]
        if missing:
            parser.error(
                f"{args.credentials} has no secret for {', '.join(missing[:5])}"
                f"{'…' if len(missing) > 5 else ''} (issue them with `recarga accounts`)"
            )
    apis = dict(item.split("=", 1) for item in args.companies.split(","))
    apis = {c: url.rstrip("/") + "/api/v1" for c, url in apis.items()}
    try:
        clock = clock_from(args.clock)
    except ValueError as exc:
        parser.error(f"--clock: {exc}")
    sim = Simulation(args.url, list(apis), args.cars, args.seed, clock, credentials=credentials)
    try:
        result = sim.run(apis)
        if args.plot:
            sim.plot(args.plot)
    finally:
        sim.close()
    print(
        f"cars {result['cars']}: {result['trips_completed']} trips completed, "
        f"{result['stranded']} stranded, {result['gave_up']} gave up; "
        f"{result['conflicts']} conflicts met ({result['conflict_outcomes']})"
    )
    for company, c in result["per_company"].items():
        print(
            f"  company {company}: {c['cars']} cars booked here, {c['legs_charged']} charging stops"
        )
    print(json.dumps(result))
    return 0 if result["stranded"] == 0 and result["unfinished"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
