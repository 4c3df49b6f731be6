"""The topic tree, per company (docs/mqtt.md).

recarga/<company>/cars/<car_id>/req/<op>      car → server, QoS 1, with Response Topic
recarga/<company>/cars/<car_id>/res           server → car, QoS 1 (responses)
recarga/<company>/cars/<car_id>/events        server → car, QoS 1 (pushes)
recarga/<company>/cars/<car_id>/telemetry     car → server, QoS 0 (periodic)
recarga/<company>/stations/<station_id>/birth     station → server, QoS 1
recarga/<company>/stations/<station_id>/status    station → all, QoS 1, retained; Last Will
recarga/<company>/stations/<station_id>/schedule  server → station, QoS 1, retained
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "recarga"


def car(company: str, car_id: str, leaf: str) -> str:
    return f"{ROOT}/{company}/cars/{car_id}/{leaf}"


def request(company: str, car_id: str, op: str) -> str:
    return car(company, car_id, f"req/{op}")


def station(company: str, station_id: str, leaf: str) -> str:
    return f"{ROOT}/{company}/stations/{station_id}/{leaf}"


#: MQTT 5 §1.5.4: a topic is a UTF-8 string of at most 65,535 bytes; §4.7.1: a topic published
#: to names no wildcard; Mosquitto drops the connection of a client that publishes a control
#: character (one bad topic would disconnect the whole bridge).
MAX_TOPIC_BYTES = 65535


def publishable(topic: object) -> bool:
    """``topic`` can be published to: one that the broker will not refuse by dropping us."""
    if not isinstance(topic, str) or not topic or topic.startswith("$"):
        return False
    if "+" in topic or "#" in topic:
        return False
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in topic):
        return False
    try:
        return len(topic.encode("utf-8")) <= MAX_TOPIC_BYTES
    except UnicodeEncodeError:  # a lone surrogate
        return False


def reply_to(company: str, car_id: str, asked: object) -> str:
    """Where a car's request is answered: the Response Topic it asked for when that lies in
    the car's own reply space (``…/cars/<car>/res`` or below) and can be published to; else
    the car's default ``…/res``. A request can never make the server publish into another
    car's topics, onto a request topic it serves itself, or onto a topic the broker refuses.
    """
    default = car(company, car_id, "res")
    if (
        isinstance(asked, str)
        and (asked == default or asked.startswith(default + "/"))
        and publishable(asked)
    ):
        return asked
    return default


def share(group: str, topic: str) -> str:
    """A shared subscription: each message goes to one member of the group (replicas)."""
    return f"$share/{group}/{topic}"


@dataclass(frozen=True)
class Parsed:
    company: str
    kind: str  # "cars" | "stations"
    subject: str  # car id or station id
    leaf: str  # "req/book", "telemetry", "status", …


def parse(topic: str) -> Parsed | None:
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT or parts[2] not in ("cars", "stations"):
        return None
    return Parsed(parts[1], parts[2], parts[3], "/".join(parts[4:]))
