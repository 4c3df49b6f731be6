"""The container's health check: this server answers ``GET /api/v1/health``. Exit 0 or 1."""

import os
import sys
import urllib.request

try:
    port = os.environ.get("RECARGA_PORT", "8080")
    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=3)
except Exception as exc:  # any failure is "unhealthy"
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
