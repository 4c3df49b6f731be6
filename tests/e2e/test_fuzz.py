"""schemathesis fuzzes a live three-company federation (waitress + recarga.wsgi + connexion, each
company on its own PostgreSQL database), through company A.

Three runs, one per kind of credential: this company's admin (admin, driver and public
operations), a driver (driver and public operations; admin ones must refuse it), and a
registered peer (the two-phase-commit operations, which refuse the other tokens).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.federation import REGISTRATION, Federation
from tests.support import ROOT

PEER_OPS = r"^handlers\.transactions\..*$"
DRIVER_OPS = r"^handlers\.(bookings|plans|system|stations)\..*$"


def _operation_ids() -> set[str]:
    spec = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    return {
        op["operationId"]
        for path in spec["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    f = Federation(tmp_path_factory.mktemp("fuzzfed"), RECARGA_PREPARE_TIMEOUT="5").start()
    for n, company in enumerate("abc"):
        f.servers[company].run_cli("seed", "--seed", str(3 + n), "--share", "0.3")
    yield f
    f.close()


@pytest.fixture(scope="module")
def server_a(fed):
    return fed.servers["a"]


def _run(server, tmp_path, token, selector, examples):
    """schemathesis with every check, and tests/hostile_hooks.py giving about half of the cases
    a hostile identifier or number (which must be refused with a 4xx)."""
    hostile_log = tmp_path / "hostile.log"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.hostile_hooks",
        "RECARGA_HOSTILE_LOG": str(hostile_log),
        "PYTHONPATH": str(ROOT),
    }
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        "openapi/openapi.yaml",
        "--url",
        server.api,
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        "20261122",
        "-H",
        f"Authorization: Bearer {token}",
        *selector,
        "--report",
        "json",
        "--report-dir",
        str(tmp_path),
        "--warnings",
        "off",
    ]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    reports = list(tmp_path.glob("*.json"))
    assert reports, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(reports[0].read_text())
    assert run.returncode == 0, run.stdout[-6000:]
    assert report["failures"] == [] and report["errors"] == []
    hostile = len(hostile_log.read_text().splitlines()) if hostile_log.exists() else 0
    assert hostile >= examples, f"only {hostile} hostile cases were generated"
    return report


def test_schemathesis_finds_no_failure_as_admin(server_a, tmp_path):
    report = _run(
        server_a, tmp_path, server_a.admin_token, ["--exclude-operation-id-regex", PEER_OPS], 50
    )
    peer_ops = {o for o in _operation_ids() if o.startswith("handlers.transactions.")}
    assert (
        report["operations"]["tested"]
        == report["operations"]["selected"]
        == len(_operation_ids()) - len(peer_ops)
    )
    assert report["test_cases"]["generated"] >= 400


def test_schemathesis_finds_no_failure_as_a_peer(server_a, tmp_path):
    handshake = httpx.post(
        f"{server_a.api}/peers",
        json={"company": "fuzzer", "url": "http://127.0.0.1:9", "token": "f" * 32},
        headers={"Authorization": f"Bearer {REGISTRATION}"},
    )
    assert handshake.status_code == 201, handshake.text
    report = _run(
        server_a,
        tmp_path,
        handshake.json()["token"],
        ["--include-operation-id-regex", PEER_OPS],
        60,
    )
    peer_ops = {o for o in _operation_ids() if o.startswith("handlers.transactions.")}
    assert report["operations"]["tested"] == report["operations"]["selected"] == len(peer_ops)
    # prepare, commit, abort, a transaction's status, decisions, prepares
    assert len(peer_ops) == 6
    assert report["test_cases"]["generated"] >= 150


def test_schemathesis_finds_no_failure_as_a_driver(server_a, tmp_path):
    issued = httpx.post(
        f"{server_a.api}/drivers", headers=server_a.admin, json={"name": "fuzzing driver"}
    )
    assert issued.status_code == 201, issued.text
    report = _run(
        server_a, tmp_path, issued.json()["token"], ["--include-operation-id-regex", DRIVER_OPS], 40
    )
    assert report["operations"]["tested"] == report["operations"]["selected"] >= 9
    assert report["test_cases"]["generated"] >= 200
