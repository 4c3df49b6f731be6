"""An HTTP client for peer servers: pooled keep-alive connections, timeouts, JSON replies.

Transport failures, timeouts, 5xx answers and replies that are not JSON objects all become
``PeerError``: for the caller a peer either answered something meaningful or is unavailable.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import httpx

API = "/api/v1"


class PeerError(Exception):
    """The peer did not give a usable answer (down, slow, broken)."""


@dataclass
class PeerReply:
    status: int
    body: dict


class PeerClient:
    def __init__(
        self,
        timeout: float = 5.0,
        max_connections: int = 64,
        transport: httpx.BaseTransport | None = None,
    ):
        """``transport``: how requests reach the peers (by default the network, pooled and
        kept alive; the integration tests pass one that calls other companies' apps in the
        same process)."""
        self.timeout = timeout
        self._transport = transport
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        # per peer URL: requests answered and bytes received as sent (compressed)
        self.traffic: dict[str, dict[str, int]] = {}

    def _client(self, base_url: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(base_url)
            if client is None:
                client = httpx.Client(
                    base_url=base_url.rstrip("/") + API,
                    limits=self._limits,
                    timeout=self.timeout,
                    transport=self._transport,
                )
                self._clients[base_url] = client
            return client

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
        try:
            resp = self._client(base_url).request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except httpx.ConnectTimeout as exc:
            raise PeerError(f"{base_url} did not accept the connection in time") from exc
        except httpx.TimeoutException as exc:
            raise PeerError(f"{base_url} did not answer in time ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise PeerError(f"{base_url} {_connect_failure(exc)}") from exc
        except httpx.HTTPError as exc:
            raise PeerError(f"{base_url} unreachable: {_describe(exc)}") from exc
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:  # nothing could be sent
            raise PeerError(f"cannot call {base_url}: {_describe(exc)}") from exc
        with self._lock:
            seen = self.traffic.setdefault(base_url, {"requests": 0, "bytes_in": 0})
            seen["requests"] += 1
            seen["bytes_in"] += resp.num_bytes_downloaded
        if resp.status_code >= 500:
            raise PeerError(f"{base_url} answered {resp.status_code} to {method} {path}")
        if resp.status_code == 304:
            return PeerReply(304, {})
        try:
            body = resp.json()
        except ValueError as exc:
            raise PeerError(f"{base_url} answered {resp.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise PeerError(f"{base_url} answered {resp.status_code} with a non-object body")
        return PeerReply(resp.status_code, body)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _connect_failure(exc: httpx.ConnectError) -> str:
    """What kept the connection from being made, in the words a person would use."""
    text = _describe(exc)
    if "refused" in text.lower():
        return f"refused the connection ({text})"
    if "name" in text.lower() or "resolution" in text.lower():
        return f"could not be found: its name does not resolve ({text})"
    return f"could not be reached ({text})"


def _describe(exc: Exception) -> str:
    """The reason in words ("Name or service not known"), without errno brackets."""
    text = re.sub(r"\[Errno -?\d+\]\s*", "", str(exc)).strip()
    return text or type(exc).__name__
