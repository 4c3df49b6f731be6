"""Companies in this process: each a ``recarga.bootstrap.Company`` (its own database, context,
app and workers), reached over HTTP semantics without sockets.

``Network`` routes a request by its host to that company's app, each request on a worker
thread of the company's own (as a server's worker threads would serve it, so a handler that
calls another company — or this one — never runs inside another request's event loop); a host
nobody serves refuses the connection, as an address with no server does. Real databases, the
real app and middleware, the real peer client: only the sockets are gone.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import httpx

from federation.client import Answer, PeerError, origin
from recarga.bootstrap import Company
from recarga.config import Config


class _Served:
    def __init__(self, company: Company, threads: int):
        self.wsgi = httpx.WSGITransport(app=company.wsgi)
        self.pool = ThreadPoolExecutor(
            threads, thread_name_prefix=f"serve-{company.config.company}"
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self.wsgi.handle_request(request)
        response.read()  # the body is produced here, on the serving thread
        return response


class Network(httpx.BaseTransport):
    """Every in-process company, by host: an httpx transport for the tests' own requests,
    and the companies' peer-client transport (``send``), failing as the network does."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Served] = {}
        self._lock = threading.Lock()
        self._peer = httpx.Client(transport=self)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        base = origin(url)
        try:
            r = self._peer.request(method, url, headers=headers, content=body, timeout=timeout)
        except httpx.ConnectError as exc:
            raise PeerError(f"{base} refused the connection (Connection refused)") from exc
        except httpx.TimeoutException as exc:
            raise PeerError(f"{base} did not answer in time (ReadTimeout)") from exc
        return Answer(r.status_code, r.content, r.num_bytes_downloaded)

    def serve(self, host: str, company: Company, threads: int) -> None:
        with self._lock:
            self._hosts[host] = _Served(company, threads)

    def leave(self, host: str) -> None:
        with self._lock:
            served = self._hosts.pop(host, None)
        if served is not None:
            served.pool.shutdown(wait=True, cancel_futures=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            served = self._hosts.get(request.url.host)
        if served is None:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        request.read()
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            future = served.pool.submit(served.handle, request)
        except RuntimeError as exc:  # the company is stopping
            raise httpx.ConnectError("Connection refused", request=request) from exc
        try:
            return future.result(timeout)
        except FutureTimeout as exc:
            raise httpx.ReadTimeout("timed out", request=request) from exc

    def close(self) -> None:  # shared by every client: closed by the test, not by a client
        pass

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(transport=self, **kwargs)


class InProcessCompany:
    """One company in this process, with the interface of ``tests.support.ServerProcess``
    that the protocol tests use (``api``, ``url``, ``admin``, ``start``, ``stop``)."""

    def __init__(
        self,
        network: Network,
        company: str,
        database_url: str,
        admin_token: str = "admin-token-x",
        **extra_env: str,
    ):
        self.network, self.company = network, company
        self.host = f"{company}.in-process"
        self.url = f"http://{self.host}"
        self.api = f"{self.url}/api/v1"
        self.admin_token = admin_token
        self.env = {
            "RECARGA_COMPANY": company,
            "RECARGA_PUBLIC_URL": self.url,
            "RECARGA_DATABASE_URL": database_url,
            "RECARGA_ADMIN_TOKEN": admin_token,
            "RECARGA_MQTT_URL": "",
            "RECARGA_VALIDATE_RESPONSES": "1",
            "RECARGA_NETWORK": os.environ.get("RECARGA_NETWORK", ""),
            **extra_env,
        }
        self.value: Company | None = None

    @property
    def admin(self) -> dict:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def start(self) -> InProcessCompany:
        config = Config.from_env({k: v for k, v in self.env.items() if v != ""})
        self.value = Company(config, transport=self.network).start()
        self.network.serve(self.host, self.value, config.threads)
        return self

    def stop(self) -> None:
        self.network.leave(self.host)
        if self.value is not None:
            self.value.close()
            self.value = None
