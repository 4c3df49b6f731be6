"""An HTTP client for peer servers: pooled keep-alive connections, timeouts, JSON replies.

Transport failures, timeouts, 5xx answers and replies that are not JSON objects all become
``PeerError``: for the caller a peer either answered something meaningful or is unavailable.

The network is reached through urllib3's connection pools (``NetworkTransport``): a peer
message is on every booking's path, and urllib3 costs about half of httpx's CPU per request
(docs/performance.md). Anything with ``send`` can stand in for the network (the integration
tests route requests to companies in the same process).
"""

from __future__ import annotations

import json as jsonlib
import re
import threading
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import urllib3
from urllib3 import exceptions as u3

API = "/api/v1"


class PeerError(Exception):
    """The peer did not give a usable answer (down, slow, broken)."""


@dataclass
class PeerReply:
    status: int
    body: dict


@dataclass
class Answer:
    """What a transport brings back: the status, the body decoded, the bytes as received."""

    status: int
    content: bytes
    bytes_in: int


class Transport(Protocol):
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        """One request; raises ``PeerError`` (in a person's words) if no answer came."""

    def close(self) -> None: ...


class NetworkTransport:
    """Peers over the network: one keep-alive pool per peer, ``max_connections`` kept in each
    (a burst opens more and closes the extra after use), no retries (a message that may have
    been delivered is not sent twice behind the protocol's back), gzip accepted."""

    def __init__(self, max_connections: int = 64):
        self._pools = urllib3.PoolManager(num_pools=64, maxsize=max_connections, retries=False)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        base = origin(url)
        try:
            resp = self._pools.request(
                method,
                url,
                body=body,
                headers={"Accept-Encoding": "gzip", **headers},
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                redirect=False,
            )
        except u3.NameResolutionError as exc:
            raise PeerError(f"{base} could not be found: its name does not resolve") from exc
        except u3.NewConnectionError as exc:
            raise PeerError(f"{base} {_connect_failure(exc)}") from exc
        except u3.ConnectTimeoutError as exc:
            raise PeerError(f"{base} did not accept the connection in time") from exc
        except u3.ReadTimeoutError as exc:
            raise PeerError(f"{base} did not answer in time (ReadTimeout)") from exc
        except ValueError as exc:  # nothing could be sent (urllib3's bad URLs among them)
            raise PeerError(f"cannot call {base}: {_describe(exc)}") from exc
        except u3.HTTPError as exc:
            raise PeerError(f"{base} unreachable: {_describe(exc)}") from exc
        return Answer(resp.status, resp.data, resp.tell())

    def close(self) -> None:
        self._pools.clear()


class PeerClient:
    def __init__(
        self,
        timeout: float = 5.0,
        max_connections: int = 64,
        transport: Transport | None = None,
    ):
        """``transport``: how requests reach the peers (by default the network, pooled and
        kept alive)."""
        self.timeout = timeout
        self._transport = transport or NetworkTransport(max_connections)
        self._lock = threading.Lock()
        # per peer URL: requests answered and bytes received as sent (compressed)
        self.traffic: dict[str, dict[str, int]] = {}

    def call(
        self,
        base_url: str,
        method: str,
        path: str,
        token: str | None = None,
        json: dict | None = None,
        params: dict | None = None,
        timeout: float | None = None,
        headers: dict | None = None,
    ) -> PeerReply:
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = None
        if json is not None:
            body = jsonlib.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            headers["Content-Type"] = "application/json"
        url = base_url.rstrip("/") + API + path + (f"?{urlencode(params)}" if params else "")
        answer = self._transport.send(
            method, url, headers, body, timeout if timeout is not None else self.timeout
        )
        with self._lock:
            seen = self.traffic.setdefault(base_url, {"requests": 0, "bytes_in": 0})
            seen["requests"] += 1
            seen["bytes_in"] += answer.bytes_in
        if answer.status >= 500:
            raise PeerError(f"{base_url} answered {answer.status} to {method} {path}")
        if answer.status == 304:
            return PeerReply(304, {})
        try:
            reply = jsonlib.loads(answer.content)
        except ValueError as exc:  # not JSON, or not UTF-8
            raise PeerError(f"{base_url} answered {answer.status} without JSON") from exc
        if not isinstance(reply, dict):
            raise PeerError(f"{base_url} answered {answer.status} with a non-object body")
        return PeerReply(answer.status, reply)

    def close(self) -> None:
        self._transport.close()


def origin(url: str) -> str:
    """The peer's base URL as the caller knows it, for a transport's messages (``…/api/v1/…``
    cut off)."""
    return url.split(API, 1)[0]


def _connect_failure(exc: Exception) -> str:
    """What kept the connection from being made, in the words a person would use."""
    text = _describe(exc)
    if "refused" in text.lower():
        return f"refused the connection ({text})"
    return f"could not be reached ({text})"


def _describe(exc: Exception) -> str:
    """The reason in words ("Connection refused"), without errno brackets or urllib3's
    restatement of the connection."""
    text = re.sub(r"\[Errno -?\d+\]\s*", "", str(exc)).strip()
    text = re.sub(r"^HTTP(S)?Connection\(host=[^)]*\):\s*", "", text)
    return text or type(exc).__name__
