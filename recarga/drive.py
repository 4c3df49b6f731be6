"""``recarga drive``: a person at the wheel, over MQTT like any car.

Plan a trip, read the options as a table, choose one, book it (in hold mode: if a stop is
taken, the rest stays held while you pick one of the offered alternatives), then keep or cancel
the booking. Answers are read from standard input, so it can be scripted too.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mqtt import address
from mqtt.rpc import CarLink, NoResponse
from planning.profiles import PROFILES

DEMO_BROKER = "demo-run/broker.url"  # the kept demo's broker (scripts/demo.py)
ANSWER_WITHIN = 10.0  # seconds: a broker or a server that says nothing by then is not there


def _ask(prompt: str) -> str:
    print(prompt, end=" ", flush=True)
    line = sys.stdin.readline()
    if not line:
        return "q"
    return line.strip().lower()


def _hhmm(minutes: float) -> str:
    return f"{int(minutes // 60)}h{int(minutes % 60):02d}"


def options_table(options: list[dict]) -> str:
    rows = [
        f"{'#':>2}  {'option':<18} {'time':>6} {'stops':>5} {'wait':>5} {'cost R$':>8}  "
        f"{'arrival (UTC)':<17} companies"
    ]
    for o in options:
        t = o["totals"]
        companies = ",".join(dict.fromkeys(s["company"] for s in o["stops"])) or "-"
        rows.append(
            f"{o['rank']:>2}  {o['label']:<18} {_hhmm(t['total_minutes']):>6} "
            f"{len(o['stops']):>5} {_hhmm(t['wait_minutes']):>5} {t['cost']:>8.2f}  "
            f"{t['arrival'][:16]:<17} {companies}"
        )
    return "\n".join(rows)


def legs_table(legs: list[dict]) -> str:
    rows = [f"{'leg':>3}  {'company':<8} {'station':<28} {'window (UTC)':<24} state"]
    for i, leg in enumerate(legs):
        rows.append(
            f"{leg.get('leg_index', i):>3}  {leg['company']:<8} {leg['station_id']:<28} "
            f"{leg['start'][5:16]} → {leg['end'][11:16]}   {leg.get('state', '')}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recarga drive", description=__doc__)
    parser.add_argument(
        "--url",
        help="the broker: mqtt://host:port, or "
        "mqtts://host:8883?cafile=ca.crt; default: the running demo's "
        f"(its address in {DEMO_BROKER}, written by `make demo`)",
    )
    parser.add_argument("--company", required=True, help="the company whose server you ask")
    parser.add_argument("--car", required=True, help="your car's id (your MQTT username)")
    parser.add_argument(
        "--secret-file",
        help="a file holding your car's own MQTT secret (`recarga accounts add`); "
        "default $RECARGA_DEVICE_SECRET, if the broker asks for one",
    )
    parser.add_argument("--from", dest="origin", required=True)
    parser.add_argument("--to", dest="destination", required=True)
    parser.add_argument("--model", default="byd-dolphin")
    parser.add_argument("--soc", type=float, default=0.8)
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help="how you drive (consumption and speed); default the rated figures",
    )
    parser.add_argument("--departure", help="RFC 3339; default tomorrow 08:00 UTC")
    args = parser.parse_args(argv)
    if args.url is None:
        try:
            args.url = Path(DEMO_BROKER).read_text().strip()
        except OSError:
            parser.error(
                f"--url is needed: no running demo here ({DEMO_BROKER} is missing; "
                "`make demo DEMO_ARGS=--keep` writes it)"
            )
    departure = args.departure or (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    ).isoformat().replace("+00:00", "Z")
    secret = os.environ.get("RECARGA_DEVICE_SECRET")
    if args.secret_file:
        try:
            with open(args.secret_file) as f:
                secret = f.read().strip()
        except OSError as exc:
            parser.error(f"--secret-file: {exc}")
    where = address.broker(args.url)
    print(f"connecting to the broker at {where.host}:{where.port} as car {args.car}…", flush=True)
    try:
        socket.create_connection((where.host, where.port), timeout=ANSWER_WITHIN / 2).close()
    except OSError as exc:
        print(f"cannot reach the broker at {where.host}:{where.port}: {exc.strerror or exc}")
        return 1
    link = CarLink(
        args.url,
        args.company,
        args.car,
        username=args.car if secret else None,
        password=secret,
        clean=True,
    )
    try:
        link.wait_connected(ANSWER_WITHIN)
        return _session(link, args, departure)
    except NoResponse as exc:
        print(f"no answer: {exc}")
        return 1
    finally:
        link.close()


def _session(link: CarLink, args, departure: str) -> int:
    vehicle = {"model_id": args.model, "soc": args.soc}
    if args.profile:
        vehicle["profile"] = args.profile
    print(
        f"connected; asking company {args.company} to plan {args.origin} → {args.destination}…",
        flush=True,
    )
    try:
        # the first answer also says a server is there: two tries of 5 s, then a clear no
        plan = link.call(
            "plan",
            {
                "origin": args.origin,
                "destination": args.destination,
                "departure": departure,
                "vehicle": vehicle,
            },
            timeout=ANSWER_WITHIN / 2,
            retries=1,
        )
    except NoResponse:
        print(
            f"no server of company {args.company!r} answered within {ANSWER_WITHIN:.0f} s: "
            'is it running and connected to this broker ("mqtt": "connected" in its '
            "GET /api/v1/health)?"
        )
        return 1
    if not plan["ok"]:
        print(f"planning refused: {plan['error']['detail']}")
        return 1
    body = plan["body"]
    if not body["options"]:
        print(f"no way to make this trip: {body.get('infeasible')}")
        return 1
    if body["companies_missing"]:
        print(
            "left out (did not answer):", ", ".join(m["company"] for m in body["companies_missing"])
        )
    print(options_table(body["options"]))
    choice = _ask("option to book (number), or q:")
    if not choice.isdigit() or not 1 <= int(choice) <= len(body["options"]):
        print("nothing booked")
        return 0
    option = body["options"][int(choice) - 1]
    # the plan's trip goes with the legs: alternatives offered on a conflict are checked
    # against it (each can charge the car in time and keeps the rest of the trip feasible)
    answer = link.call("book", {"legs": option["legs"], "mode": "hold", "trip": body["trip"]})
    while answer["status"] == 409:
        problem = answer.get("error") or answer.get("body") or {}
        print(f"conflict: {problem.get('detail')}")
        if problem.get("state") != "held":
            return 1
        replacements = []
        for c in problem.get("conflicts", []):
            print(f"leg {c['leg_index']} at {c['station_id']}: {c['reason']}")
            for n, alt in enumerate(c["alternatives"], start=1):
                print(
                    f"   {n}. {alt['company']} {alt['station_id']} {alt['start'][11:16]}–"
                    f"{alt['end'][11:16]} {alt['power_kw']:.0f} kW "
                    f"(+{alt.get('detour_km', 0):.0f} km, arrives "
                    f"{alt.get('delay_minutes', 0):+.0f} min, R$ {alt.get('cost', 0):.2f})"
                )
            if not c["alternatives"]:
                print(f"   no alternative: {c.get('no_alternative', 'none nearby')}")
            pick = _ask(f"alternative for leg {c['leg_index']} (number), or q to give up:")
            if not pick.isdigit() or not 1 <= int(pick) <= len(c["alternatives"]):
                link.call("cancel", {"booking_id": problem["booking_id"]})
                print("gave up; everything held was released")
                return 0
            alt = c["alternatives"][int(pick) - 1]
            replacements.append(
                {
                    "leg_index": c["leg_index"],
                    **{
                        k: alt[k] for k in ("company", "station_id", "connector_id", "start", "end")
                    },
                }
            )
        answer = link.call("choose", {"booking_id": problem["booking_id"], "legs": replacements})
    if not answer["ok"]:
        print(f"booking failed ({answer['status']}): {answer['error']['detail']}")
        return 1
    booking = answer["body"]
    print(f"booking {booking['booking_id']} is {booking['state']}:")
    print(legs_table(booking["legs"]))
    if _ask("c to cancel it, anything else to keep it:") == "c":
        cancelled = link.call("cancel", {"booking_id": booking["booking_id"]})
        print(f"booking {booking['booking_id']} is {cancelled['body']['state']}")
    return 0
