"""A charging station as an MQTT client: birth message, retained status, Last Will (offline),
and the reservation schedule its company publishes to it.

Run one: python -m carsim.station --url mqtt://127.0.0.1:1883 --company a --station a-recife-1
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt import address, topics


class StationLink:
    def __init__(
        self,
        url: str,
        company: str,
        station_id: str,
        username: str | None = None,
        password: str | None = None,
    ):
        self.company, self.station_id = company, station_id
        where = address.broker(url)
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"station-{station_id}", protocol=paho.MQTTv5
        )
        address.configure(self.client, where, username, password)
        self.status_topic = topics.station(company, station_id, "status")
        will = Properties(PacketTypes.WILLMESSAGE)
        will.WillDelayInterval = 0
        self.client.will_set(
            self.status_topic,
            json.dumps({"status": "offline"}),
            qos=1,
            retain=True,
            properties=will,
        )
        self.schedule: list[dict] = []
        self.schedule_as_of = ""  # RFC 3339 UTC text: ordered as text
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async(where.host, where.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, _u, _f, reason_code, _p):
        if reason_code.is_failure:
            return
        client.subscribe(topics.station(self.company, self.station_id, "schedule"), qos=1)
        client.publish(
            topics.station(self.company, self.station_id, "birth"),
            json.dumps({"station_id": self.station_id, "ts": time.time()}),
            qos=1,
        )
        self.set_status("available")
        self.connected.set()

    def _on_message(self, _client, _userdata, msg):
        try:
            body = json.loads(msg.payload)
            as_of = str(body.get("as_of", ""))
            if as_of >= self.schedule_as_of:  # never an older read over a newer one
                self.schedule, self.schedule_as_of = body.get("windows", []), as_of
        except (ValueError, AttributeError):
            pass

    def set_status(self, status: str):
        return self.client.publish(
            self.status_topic, json.dumps({"status": status}), qos=1, retain=True
        )

    def close(self, final_status: str | None = "offline") -> None:
        """Disconnect cleanly (which sends no will), first saying ``final_status`` if any."""
        if final_status:
            info = self.set_status(final_status)
            if self.client.is_connected():
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--company", required=True)
    parser.add_argument("--station", required=True)
    args = parser.parse_args()
    link = StationLink(args.url, args.company, args.station)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        link.close()


if __name__ == "__main__":
    main()
