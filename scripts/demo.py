"""The local demo: seeded company servers on SQLite files.

``--once`` checks that everything answers and stops; otherwise it runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "demo-run"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="check it answers, then stop")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir()
    port = free_port()
    env = {**os.environ, "RECARGA_COMPANY": "a", "RECARGA_PORT": str(port),
           "RECARGA_HOST": "127.0.0.1", "RECARGA_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "RECARGA_DATABASE_URL": f"sqlite:///{RUN_DIR / 'company-a.db'}",
           "RECARGA_ADMIN_TOKEN": "demo-admin-a", "RECARGA_MQTT_URL": ""}
    recarga = [sys.executable, "-m", "recarga.cli"]
    subprocess.run([*recarga, "seed", "--seed", str(args.seed)], env=env, check=True)
    log = open(RUN_DIR / "company-a.log", "w")
    server = subprocess.Popen([*recarga, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start; see demo-run/company-a.log", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        stations = httpx.get(f"{base}/stations", params={"limit": 1}).json()["total"]
        print(f"company a is {health['status']} with {stations} stations")
        print(f"  API:        {base}")
        print(f"  Swagger UI: {base}/ui/")
        print(f"  admin token: {env['RECARGA_ADMIN_TOKEN']}")
        if args.once:
            return 0
        print("Ctrl-C stops it.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
