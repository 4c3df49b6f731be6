"""The image's health check: this server answers ``GET /api/v1/health``. Exit 0 or 1.

One image runs every role; only a server has something to check. In a container whose main
process is another role (the simulator, the broker accounts), the check reports healthy.
"""

import os
import sys
import urllib.request


def _main_role() -> str:
    try:
        with open("/proc/1/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "serve"  # not in a container: check the server


def main() -> int:
    if " serve" not in f" {_main_role()}":
        return 0
    try:
        port = os.environ.get("RECARGA_PORT", "8080")
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=3)
    except Exception as exc:  # any failure is "unhealthy"
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
