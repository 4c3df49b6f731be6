"""What one peer message costs the caller: httpx, urllib3 (the peer client's transport) and
the standard library's http.client, side by side.

A local waitress server answers a small JSON object to a POST of a three-leg JSON body (a
prepare's size); each client sends ``--requests`` sequential keep-alive requests, decoding the
answer, and the CPU time of the calling thread is read per request (the server's is not
counted: it is the same for all). Clients alternate, ``--rounds`` times; medians reported.

Run: python bench/peer_client.py [--rounds 3] [--requests 3000] [--quick]. Last line: JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time

import httpx
import urllib3
import waitress

BODY = {
    "coordinator": "b",
    "legs": [
        {"leg_index": i, "station_id": f"st-{i:04d}", "connector_id": f"cn-{i:04d}-1"}
        for i in range(3)
    ],
}
ANSWER = json.dumps({"held": [0, 1, 2], "refused": {}, "places": {"0": "recife"}}).encode()


def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
    )
    return [ANSWER]


def clients(port: int) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/prepares"
    headers = {"Authorization": "Bearer token", "Content-Type": "application/json"}
    hx = httpx.Client()
    pools = urllib3.PoolManager(maxsize=8, retries=False)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def with_httpx():
        hx.post(url, json=BODY, headers=headers).json()

    def with_urllib3():
        r = pools.request(
            "POST",
            url,
            body=json.dumps(BODY).encode(),
            headers=headers,
            timeout=urllib3.Timeout(connect=5, read=5),
        )
        json.loads(r.data)

    def with_http_client():
        conn.request("POST", "/api/v1/prepares", body=json.dumps(BODY).encode(), headers=headers)
        json.loads(conn.getresponse().read())

    return {"httpx": with_httpx, "urllib3": with_urllib3, "http.client": with_http_client}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="one round of 300 requests")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests = 1, 300
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    calls = clients(server.effective_port)
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    wall: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            for _ in range(min(200, args.requests)):  # warm-up: connections, caches
                call()
            c0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(args.requests):
                call()
            cpu[name].append((time.thread_time() - c0) / args.requests * 1e6)
            wall[name].append((time.perf_counter() - w0) / args.requests * 1e6)
    summary = {
        name: {
            "cpu_us_median": round(statistics.median(cpu[name])),
            "wall_us_median": round(statistics.median(wall[name])),
        }
        for name in calls
    }
    for name, row in summary.items():
        print(f"{name:>12}: {row['cpu_us_median']} µs of CPU, {row['wall_us_median']} µs wall")
    print(json.dumps({"bench": "peer_client", "rounds": args.rounds, "results": summary}))


if __name__ == "__main__":
    main()
