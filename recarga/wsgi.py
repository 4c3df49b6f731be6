"""The ASGI app served by waitress: each worker thread runs the app on an event loop of its own.

connexion binds the contract as an ASGI app; waitress, a WSGI server, serves it. The general
bridge (a2wsgi) runs the app on one shared event loop in a thread of its own, and connexion
then runs every (blocking) handler on a worker thread of that loop: each request crosses
three threads and two queues. Here the waitress worker thread that took the request drives
the app itself, on its own loop, and the handlers run inline in it (``inline_handlers``): a
blocking handler blocks only its own request's loop, the one thread waitress gave it.

What the bridge owes the app and the client:

- the request body arrives in chunks (``more_body``), never more than ``CHUNK`` bytes read ahead,
  so a size guard inside the app stops a large body early;
- a response is sent as the app sends it: buffered when it comes in one piece, streamed chunk by
  chunk when the app streams; a client gone mid-stream cancels the app's task;
- an app that fails before answering gets a 500 problem+json (and the traceback in the log), one
  that fails mid-answer has its connection closed (the client sees a cut answer, not a wrong one);
- the ASGI lifespan runs on a loop of its own: ``startup()`` before serving (connexion builds
  its middleware stack there, once, before worker threads race to build it), ``shutdown()``
  after the last request; the lifespan's ``state`` is copied into every request's scope.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from booking.errors import problem

log = logging.getLogger(__name__)

CHUNK = 64 * 1024  # bytes of request body handed to the app per receive()


def inline_handlers(function: Callable) -> Callable:
    """A blocking handler as a coroutine function that runs it on the calling loop's thread.

    connexion runs a plain function on a worker thread of its event loop (one more thread hop
    per request); a coroutine function it awaits in place. Served by ``ThreadLoopWSGI`` the loop
    belongs to the request's own waitress thread, so running the handler there is what a plain
    WSGI app does. Coroutine functions are returned unchanged."""
    if asyncio.iscoroutinefunction(function):
        return function

    @functools.wraps(function)
    async def inline(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return inline


class BadRequestLine(ValueError):
    """The request's path is not UTF-8: answered 400 before the app sees it."""


def build_scope(environ: dict, state: dict | None) -> dict:
    """The ASGI HTTP scope of a WSGI request (PEP 3333 strings are latin-1 decoded bytes)."""
    headers = [
        (key[5:].lower().replace("_", "-").encode("latin-1"), value.encode("latin-1"))
        for key, value in environ.items()
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
    ]
    for key, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
        if environ.get(key):
            headers.append((name, environ[key].encode("latin-1")))
    try:
        root_path = environ.get("SCRIPT_NAME", "").encode("latin-1").decode("utf-8")
        path = root_path + environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequestLine("the path is not UTF-8") from None
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.0").partition("/")[2] or "1.0",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path,
        "root_path": root_path,
        "headers": headers,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "server": (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0)),
        "extensions": {},
    }
    if environ.get("REMOTE_ADDR"):
        scope["client"] = (environ["REMOTE_ADDR"], int(environ.get("REMOTE_PORT") or 0))
    if state is not None:
        scope["state"] = dict(state)
    return scope


class _Exchange:
    """One request's messages between the WSGI side and the app's task."""

    def __init__(self, body: Any, loop: asyncio.AbstractEventLoop):
        self.body = body
        self.body_done = False
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.finished = False  # the app sent its last body message
        self.moved = asyncio.Event()  # something for the WSGI side: start, a chunk, the end
        self.gone = loop.create_future()  # resolved when the response is over

    async def receive(self) -> dict:
        if not self.body_done:
            chunk = self.body.read(CHUNK) if self.body is not None else b""
            # a short read is the end (waitress hands a buffered body; a read of 0 bytes too)
            self.body_done = len(chunk) < CHUNK
            return {"type": "http.request", "body": chunk, "more_body": not self.body_done}
        await asyncio.shield(self.gone)  # after the body, only the end of the exchange
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("the response had started already")
            self.status = int(message["status"])
            self.headers = [
                (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                for k, v in message.get("headers", [])
            ]
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("a response body before its start")
            if self.finished:
                return  # the ASGI spec: messages after the last one are ignored
            if message.get("body"):
                self.chunks.append(bytes(message["body"]))
            if not message.get("more_body", False):
                self.finished = True
                if not self.gone.done():
                    self.gone.set_result(None)
        else:
            return
        self.moved.set()


class ThreadLoopWSGI:
    """A WSGI app serving ``app`` (ASGI) on an event loop per worker thread (see the module)."""

    def __init__(self, app: Callable, *, startup_timeout: float = 30.0):
        self.app = app
        self.startup_timeout = startup_timeout
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._lifespan: _Lifespan | None = None

    # -- the app's life -----------------------------------------------------------------------

    def startup(self) -> None:
        """Run the app's lifespan startup; raise if the app says it failed."""
        self._lifespan = _Lifespan(self.app)
        self._lifespan.start(self.startup_timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Run the lifespan shutdown and close the worker threads' loops."""
        if self._lifespan is not None:
            self._lifespan.stop(timeout)
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            # a loop in use belongs to a thread still answering: closing it under that thread
            # would break its answer; it is left to the thread, which ends with the process
            if not loop.is_running():
                loop.close()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
            with self._lock:
                self._loops.append(loop)
        return loop

    # -- one request --------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        state = self._lifespan.state if self._lifespan and self._lifespan.supported else None
        try:
            scope = build_scope(environ, state)
        except BadRequestLine as exc:
            return _problem(start_response, 400, "Bad Request", str(exc))
        loop = self._loop()
        exchange = _Exchange(environ.get("wsgi.input"), loop)
        task = loop.create_task(self.app(scope, exchange.receive, exchange.send))
        self._run_until_moved(loop, exchange, task)
        if exchange.status is None:  # the app ended (or failed) without answering
            self._finish(loop, exchange, task)
            failure = _failure(task)
            if failure is not None:
                log.error(
                    "the app failed before answering %s %s",
                    scope["method"],
                    scope["path"],
                    exc_info=failure,
                )
            else:
                log.error("the app answered nothing to %s %s", scope["method"], scope["path"])
            return _problem(
                start_response,
                500,
                "Internal Server Error",
                "the server failed to answer this request",
            )
        start_response(_status_line(exchange.status), exchange.headers)
        return _Body(self, loop, exchange, task)

    def _run_until_moved(
        self, loop: asyncio.AbstractEventLoop, exchange: _Exchange, task: asyncio.Task
    ) -> None:
        """Drive the loop until the app has sent something new or has ended."""
        if task.done() or exchange.moved.is_set():
            return
        waiter = loop.create_task(exchange.moved.wait())
        try:
            loop.run_until_complete(
                asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            )
        finally:
            if not waiter.done():
                waiter.cancel()
                loop.run_until_complete(asyncio.gather(waiter, return_exceptions=True))

    @staticmethod
    def _finish(
        loop: asyncio.AbstractEventLoop,
        exchange: _Exchange,
        task: asyncio.Task,
        cancel: bool = False,
    ) -> None:
        """End the app's task: let it run to its end (what it does after the answer), or cancel
        it (the client is gone); then settle the exchange."""
        if not exchange.gone.done():
            exchange.gone.set_result(None)
        if cancel and not task.done():
            task.cancel()
        if not task.done():
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))


class _Body:
    """The WSGI response iterable: what the app has sent, then whatever it streams on."""

    def __init__(
        self,
        bridge: ThreadLoopWSGI,
        loop: asyncio.AbstractEventLoop,
        exchange: _Exchange,
        task: asyncio.Task,
    ):
        self.bridge, self.loop, self.exchange, self.task = bridge, loop, exchange, task
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        exchange = self.exchange
        while True:
            if exchange.chunks:
                chunks, exchange.chunks = exchange.chunks, []
                yield b"".join(chunks)
            if exchange.finished:
                return
            if self.task.done():  # ended mid-answer: a cut answer, not a silent short one
                raise RuntimeError("the app ended before finishing its answer") from _failure(
                    self.task
                )
            exchange.moved.clear()
            self.bridge._run_until_moved(self.loop, exchange, self.task)

    def close(self) -> None:
        """Called by waitress once the answer is written or the client has gone."""
        if self.closed:
            return
        self.closed = True
        self.bridge._finish(self.loop, self.exchange, self.task, cancel=not self.exchange.finished)
        failure = _failure(self.task)
        if failure is not None:
            log.error("the app failed after answering", exc_info=failure)


def _failure(task: asyncio.Task) -> BaseException | None:
    """What a finished task raised (not its cancellation), or None."""
    if not task.done() or task.cancelled():
        return None
    return task.exception()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _problem(start_response: Callable, status: int, title: str, detail: str) -> list[bytes]:
    body = json.dumps(problem(status, title, detail)).encode()
    start_response(
        _status_line(status),
        [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _Lifespan:
    """The ASGI lifespan protocol on a thread and loop of its own, for the app's lifetime."""

    def __init__(self, app: Callable):
        self.app = app
        self.state: dict = {}
        self.supported = True
        self.failure: str | None = None
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shutdown_asked: asyncio.Event | None = None

    def start(self, timeout: float) -> None:
        threading.Thread(
            target=lambda: asyncio.run(self._main()), name="asgi-lifespan", daemon=True
        ).start()
        if not self.started.wait(timeout):
            raise RuntimeError(f"the app's lifespan startup took over {timeout:g} s")
        if self.failure is not None:
            raise RuntimeError(f"the app's lifespan startup failed: {self.failure}")

    def stop(self, timeout: float) -> None:
        if self.loop is not None and self.shutdown_asked is not None and not self.stopped.is_set():
            self.loop.call_soon_threadsafe(self.shutdown_asked.set)
        self.stopped.wait(timeout)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.shutdown_asked = asyncio.Event()
        asked = False

        async def receive() -> dict:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "lifespan.startup"}
            assert self.shutdown_asked is not None
            await self.shutdown_asked.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.failed":
                self.failure = message.get("message") or "no reason given"
            if kind.startswith("lifespan.startup."):
                self.started.set()
            elif kind.startswith("lifespan.shutdown."):
                if kind.endswith("failed"):
                    log.error("the app's lifespan shutdown failed: %s", message.get("message"))
                self.stopped.set()

        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:  # noqa: BLE001 — an app without lifespan raises here
            if not self.started.is_set():
                # the ASGI spec: an app that raises instead of starting does not speak
                # lifespan; the server goes on without it
                self.supported = False
                log.info("the app does not support the ASGI lifespan (%r)", exc)
            else:
                log.error("the app's lifespan ended with an error", exc_info=True)
        finally:
            self.started.set()
            self.stopped.set()
