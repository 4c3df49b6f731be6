"""Why the console polls instead of holding a push stream open (Server-Sent Events).

The company server is waitress (WSGI) around the ASGI app through ``recarga.wsgi.ThreadLoopWSGI``
(each worker thread runs the app on its own loop), as ``recarga.bootstrap`` builds it. This serves a minimal app the same way with ``--threads``
worker threads: ``/stream`` sends an event every second and never ends (what an SSE
endpoint does), ``/ping`` answers at once. With K streams open, it times ``/ping``: each
open stream holds one worker thread for as long as it is open, so at K = threads the
server stops answering anything else.

Run: python bench/waitress_streams.py [--threads 8]. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time

import httpx
import waitress
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from recarga.wsgi import ThreadLoopWSGI


async def stream(request):
    async def events():
        n = 0
        while True:
            n += 1
            yield f"data: {n}\n\n"
            await asyncio.sleep(1)

    return StreamingResponse(events(), media_type="text/event-stream")


async def ping(request):
    return PlainTextResponse("pong")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_stream(url: str, opened: threading.Event, stop: threading.Event) -> None:
    with httpx.Client(timeout=None) as http, http.stream("GET", url) as r:
        for _ in r.iter_lines():
            opened.set()
            if stop.is_set():
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = Starlette(routes=[Route("/stream", stream), Route("/ping", ping)])
    port = free_port()
    bridge = ThreadLoopWSGI(app)
    bridge.startup()
    server = waitress.create_server(
        bridge,
        host="127.0.0.1",
        port=port,
        threads=args.threads,
        connection_limit=1000,
    )
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    results = []
    streams = 0
    for target in sorted({0, args.threads // 2, args.threads - 1, args.threads}):
        while streams < target:
            opened = threading.Event()
            threading.Thread(
                target=open_stream, args=(f"{base}/stream", opened, stop), daemon=True
            ).start()
            opened.wait(5)
            streams += 1
        began = time.perf_counter()
        try:
            httpx.get(f"{base}/ping", timeout=5).raise_for_status()
            answer = round((time.perf_counter() - began) * 1000, 1)
        except httpx.TimeoutException:
            answer = None
        results.append({"open_streams": streams, "ping_ms": answer})
        print(
            f"{streams} streams open: /ping "
            f"{'no answer in 5 s' if answer is None else f'{answer} ms'}",
            flush=True,
        )
    stop.set()
    print(json.dumps({"threads": args.threads, "results": results}))
    server.close()


if __name__ == "__main__":
    main()
