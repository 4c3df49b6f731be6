"""The ASGI app under waitress (recarga.wsgi.ThreadLoopWSGI): a real waitress server on a local
socket, real HTTP clients, small Starlette apps that misbehave on purpose, and the company app.

No sleeps decide an outcome: where one request must be in flight while another runs, events
say when it is."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import httpx
import pytest
import waitress
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route
from waitress import wasyncore

from recarga.wsgi import CHUNK, ThreadLoopWSGI, inline_handlers
from tests.support import sqlite_company


@contextlib.contextmanager
def served(app, threads: int = 4, lifespan: bool = True):
    """``app`` behind ThreadLoopWSGI and waitress on a free port; stopped on exit."""
    bridge = ThreadLoopWSGI(app)
    if lifespan:
        bridge.startup()
    server = waitress.create_server(bridge, host="127.0.0.1", port=0, threads=threads)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", bridge
    finally:
        stop.set()
        thread.join(5)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        wasyncore.close_all(server._map)
        bridge.shutdown()


def test_a_failure_before_the_answer_is_a_500_problem_and_the_server_goes_on():
    async def boom(request):
        raise RuntimeError("the handler broke")

    async def fine(request):
        return PlainTextResponse("fine")

    app = Starlette(routes=[Route("/boom", boom), Route("/fine", fine)])
    with served(app) as (url, _):
        broken = httpx.get(f"{url}/boom")
        assert broken.status_code == 500
        # Starlette's own error middleware answers first when it can; either way a 500, no hang
        assert httpx.get(f"{url}/fine").text == "fine"


def test_an_app_that_raises_outside_any_middleware_gets_a_problem_500():
    async def raw(scope, receive, send):
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan here")  # the spec: the server goes on without it
        raise ValueError("nothing sent")

    with served(raw) as (url, bridge):
        answer = httpx.get(f"{url}/x")
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 500


def test_an_app_that_answers_nothing_gets_a_problem_500():
    async def silent(scope, receive, send):
        if scope["type"] == "http":
            return

    with served(silent, lifespan=False) as (url, _):
        answer = httpx.get(f"{url}/x")
        assert answer.status_code == 500 and answer.json()["title"] == "Internal Server Error"


def test_a_failure_mid_stream_cuts_the_connection_rather_than_ending_the_answer_short():
    async def half(request):
        async def chunks():
            yield b"first part;"
            raise RuntimeError("the stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    async def fine(request):
        return PlainTextResponse("fine")

    app = Starlette(routes=[Route("/half", half), Route("/fine", fine)])
    with served(app) as (url, _):
        with pytest.raises(httpx.HTTPError):
            # chunked: a cut stream cannot pass for a whole one
            httpx.get(f"{url}/half").raise_for_status()
        assert httpx.get(f"{url}/fine").text == "fine"


def test_a_streamed_answer_arrives_chunk_by_chunk_and_a_client_gone_cancels_the_app():
    release = [threading.Event() for _ in range(3)]
    cancelled = threading.Event()

    async def stream(request):
        async def chunks():
            try:
                for n, gate in enumerate(release):
                    while not gate.is_set():
                        await asyncio.sleep(0.005)
                    yield f"part {n}\n".encode()
                while True:  # an endless stream after the third part
                    await asyncio.sleep(0.005)
                    yield b"."
            except asyncio.CancelledError:
                cancelled.set()
                raise

        return StreamingResponse(chunks(), media_type="text/plain")

    app = Starlette(routes=[Route("/stream", stream)])
    release[0].set()  # waitress sends the headers with the first part
    with (
        served(app) as (url, _),
        httpx.Client() as client,
        client.stream("GET", f"{url}/stream") as answer,
    ):
        lines = answer.iter_lines()
        for n in range(len(release)):
            assert next(lines) == f"part {n}"
            if n + 1 < len(release):
                release[n + 1].set()  # the next part exists only once this one was read
        answer.close()  # the client goes away mid-stream
        assert cancelled.wait(10), "the app's task was not cancelled when the client left"


def test_a_large_body_reaches_the_app_in_bounded_chunks():
    seen = []

    async def count(scope, receive, send):
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": str(sum(seen)).encode()})

    body = b"x" * (5 * 1024 * 1024 + 7)
    with served(count, lifespan=False) as (url, _):
        answer = httpx.post(f"{url}/upload", content=body)
    assert answer.text == str(len(body))
    assert max(seen) <= CHUNK and len(seen) >= len(body) // CHUNK


def test_a_slow_client_holds_no_worker_thread():
    async def ping(request):
        return PlainTextResponse("pong")

    app = Starlette(routes=[Route("/ping", ping, methods=["GET", "POST"])])
    with served(app, threads=1) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            # headers and a tenth of the body, then nothing: waitress buffers it, the app
            # (and the one worker thread) never see this request until it is whole
            slow.sendall(
                b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"y" * 10
            )
            with httpx.Client() as client:
                assert all(client.get(f"{url}/ping").text == "pong" for _ in range(20))
            slow.sendall(b"y" * 90)
            slow.settimeout(10)
            assert slow.recv(4096).startswith(b"HTTP/1.1 200")


def test_blocking_handlers_run_on_their_own_threads_not_on_one_shared_loop():
    """Handler A blocks until handler B has run: on one shared loop with handlers inline this
    would never end; with a loop per worker thread both finish."""
    b_ran = threading.Event()

    @inline_handlers
    def a(request):
        assert b_ran.wait(10), "B never ran while A was blocking"
        return PlainTextResponse("a")

    @inline_handlers
    def b(request):
        b_ran.set()
        return PlainTextResponse("b")

    app = Starlette(routes=[Route("/a", a), Route("/b", b)])
    with served(app, threads=2) as (url, _):
        result = {}
        first = threading.Thread(
            target=lambda: result.update(a=httpx.get(f"{url}/a", timeout=20).text)
        )
        first.start()
        assert httpx.get(f"{url}/b").text == "b"
        first.join(20)
        assert result == {"a": "a"}


def test_the_lifespan_runs_once_around_the_requests_and_shares_its_state():
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    async def hello(request):
        return JSONResponse({"greeting": request.state.greeting, "events": list(events)})

    app = Starlette(routes=[Route("/hello", hello)], lifespan=lifespan)
    with served(app) as (url, _):
        assert httpx.get(f"{url}/hello").json() == {"greeting": "hello", "events": ["startup"]}
    assert events == ["startup", "shutdown"]


def test_a_failed_startup_stops_the_server_before_it_serves():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("no database")
        yield

    bridge = ThreadLoopWSGI(Starlette(lifespan=lifespan))
    with pytest.raises(RuntimeError, match="lifespan startup failed"):
        bridge.startup()


def test_a_path_that_is_not_utf8_is_a_400():
    async def anything(scope, receive, send):
        raise AssertionError("the app must not see it")

    with served(anything, lifespan=False) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"GET /%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            raw.settimeout(10)
            answer = b""
            while chunk := raw.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 400") and b"not UTF-8" in answer


def test_the_company_app_behind_the_bridge(tmp_path):
    """The real app: its contract's answers, a guarded body and its own 413, many threads."""
    from recarga.middleware import MAX_BODY

    with (
        sqlite_company(tmp_path) as (app, _),
        served(app, threads=8) as (url, _),
        httpx.Client() as client,
    ):
        assert client.get(f"{url}/api/v1/health").json()["status"] == "ok"
        too_big = client.post(
            f"{url}/api/v1/plans",
            content=b"{" + b" " * MAX_BODY + b"}",
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        nan = client.post(
            f"{url}/api/v1/plans",
            content=b'{"x": NaN}',
            headers={"content-type": "application/json"},
        )
        assert nan.status_code == 400 and "NaN" in nan.json()["detail"]
        missing = client.get(f"{url}/api/v1/stations/nope-nope-1")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        began = time.monotonic()
        with httpx.Client() as other:
            answers = list(_parallel(8, lambda: other.get(f"{url}/api/v1/health")))
        assert [a.status_code for a in answers] == [200] * 8, time.monotonic() - began


def _parallel(n, call):
    out: list = [None] * n

    def run(i):
        out[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out
