"""Where the broker is and how to reach it: one URL, the same for servers, cars and stations.

    mqtt://[user:password@]host[:1883]                       plain; the local demo on 127.0.0.1
    mqtts://[user:password@]host[:8883][?cafile=/path/ca.crt] TLS, the broker's certificate
                                                              verified (against ``cafile``, else
                                                              the system's trusted CAs)

Between computers a password or a bearer token must never travel in clear, so a deployment's
clients use ``mqtts://`` with the federation's CA (``recarga certs``, docs/deploy.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

import paho.mqtt.client as paho

SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool = False
    cafile: str | None = None


def broker(url: str) -> BrokerAddress:
    """Parse a broker URL (see the module's docstring); a ValueError says what is expected."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES:
        raise ValueError(
            "an MQTT URL is mqtt://[user:password@]host[:port] or "
            f"mqtts://[user:password@]host[:port][?cafile=PATH], not "
            f"{parsed.scheme or 'no scheme'}://…"
        )  # the URL may hold a password
    tls = SCHEMES[parsed.scheme]
    query = parse_qs(parsed.query)
    unknown = set(query) - {"cafile"}
    if unknown or (query and not tls):
        raise ValueError("the URL's only parameter is cafile, and only with mqtts://")
    return BrokerAddress(
        parsed.hostname or "127.0.0.1",
        parsed.port or (8883 if tls else 1883),
        unquote(parsed.username) if parsed.username else None,
        unquote(parsed.password) if parsed.password else None,
        tls,
        query.get("cafile", [None])[-1],
    )


def configure(
    client: paho.Client,
    address: BrokerAddress,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """Give ``client`` its credential (``username``/``password`` win over the URL's) and, for
    ``mqtts://``, TLS that verifies the broker's certificate and host name."""
    user = username or address.username
    if user:
        client.username_pw_set(user, password if password is not None else address.password)
    if address.tls:
        context = ssl.create_default_context(cafile=address.cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        client.tls_set_context(context)
