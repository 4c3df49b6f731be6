"""schemathesis fuzzes the live server (waitress + a2wsgi + connexion) on PostgreSQL."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from booking.errors import NotImplementedYet
from tests.support import ROOT

# Operations of the contract whose issue has not landed yet. Each must answer 501 to be excluded;
# the test below fails as soon as one is built, so the exclusion cannot outlive its reason.
UNBUILT = {
    "handlers.bookings.create_booking": ("post", "/bookings", {}),
    "handlers.bookings.get_booking": ("get", "/bookings/x1", {}),
    "handlers.bookings.cancel_booking": ("delete", "/bookings/x1", {}),
    "handlers.peers.list_peers": ("get", "/peers", {"admin": True}),
    "handlers.peers.register_peer": ("post", "/peers", {"admin": True}),
    "handlers.transactions.prepare": None,
    "handlers.transactions.commit": None,
    "handlers.transactions.abort": None,
    "handlers.transactions.get_transaction": None,
}
BODIES = {
    "/plans": {"origin": "recife", "destination": "maceio", "departure": "2030-01-01T08:00:00Z",
               "vehicle": {"model_id": "byd-dolphin", "soc": 0.8}},
    "/bookings": {"car_id": "car-1", "legs": [{"company": "a", "station_id": "a-recife-1",
                  "connector_id": "a-recife-1-c1", "start": "2030-01-01T08:00:00Z",
                  "end": "2030-01-01T08:30:00Z"}]},
    "/peers": {"url": "http://127.0.0.1:9/", "registration_token": "x" * 16},
}


def test_excluded_operations_are_exactly_the_unbuilt_ones(server_a):
    import importlib

    for operation_id, probe in UNBUILT.items():
        if probe is None:  # peer-authenticated: no peer exists yet, so call the handler itself
            module, name = operation_id.rsplit(".", 1)
            func = getattr(importlib.import_module(module), name)
            with pytest.raises(NotImplementedYet):
                func(*(["tx1", {}] if name == "prepare" else ["tx1"]))
            continue
        method, path, opts = probe
        headers = server_a.admin if opts.get("admin") else {}
        r = httpx.request(method, server_a.api + path, headers=headers, json=BODIES.get(path))
        assert r.status_code == 501, (operation_id, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_schemathesis_finds_no_failure(server_a, tmp_path):
    exclude = "|".join(op.replace(".", r"\.") for op in UNBUILT)
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "run", "openapi/openapi.yaml",
        "--url", server_a.api, "--checks", "all", "--max-examples", "60", "--seed", "20261122",
        "-H", f"Authorization: Bearer {server_a.admin_token}",
        "--exclude-operation-id-regex", f"^({exclude})$",
        "--report", "json", "--report-dir", str(tmp_path), "--warnings", "off",
    ]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    reports = list(tmp_path.glob("*.json"))
    assert reports, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(reports[0].read_text())
    assert run.returncode == 0, run.stdout[-6000:]
    assert report["failures"] == [] and report["errors"] == []
    assert report["operations"]["tested"] == report["operations"]["selected"] == 7
    assert report["test_cases"]["generated"] >= 300
