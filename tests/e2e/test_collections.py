"""The Postman collection runs unattended with newman against three real servers on
PostgreSQL, and the Insomnia export carries the same demo flow (SPEC: "tested with Insomnia or
Postman"). The contract passes the ecosystem's linters: spectral, redocly and inso."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.federation import BR101, REGISTRATION, Federation
from tests.support import ROOT

BIN = ROOT / "node_modules" / ".bin"
POSTMAN = ROOT / "insomnia" / "recarga.postman_collection.json"
INSOMNIA = ROOT / "insomnia" / "recarga.json"


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} missing: run make test (it runs npm ci)"
    return str(path)


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    f = Federation(tmp_path_factory.mktemp("newman")).start()
    for n, company in enumerate("abc"):
        f.servers[company].run_cli("seed", "--seed", str(11 + n), "--share", "0.4")
        for place in BR101[company]:
            f.add_station(company, place, connectors=2)
    yield f
    f.close()


def environment(fed) -> dict:
    values = {"registration_token": REGISTRATION}
    for c in "abc":
        values[f"base_url_{c}"] = fed.api(c)
        values[f"admin_token_{c}"] = fed.servers[c].admin_token
    return {
        "name": "test federation",
        "values": [{"key": k, "value": v, "enabled": True} for k, v in values.items()],
    }


def _world(fed) -> dict:
    """What the collection must leave as it found it: each company's stations and peers."""
    import httpx

    return {
        c: (
            sorted(
                s["id"]
                for s in httpx.get(f"{fed.api(c)}/stations", params={"limit": 1000}).json()["items"]
            ),
            sorted(
                p["company"]
                for p in httpx.get(f"{fed.api(c)}/peers", headers=fed.servers[c].admin).json()[
                    "items"
                ]
            ),
        )
        for c in "abc"
    }


def test_newman_runs_the_whole_postman_collection_without_a_failed_assertion(fed, tmp_path):
    """The demo flow, then every operation on its own asserting the outcome its example is
    meant to produce (no "any documented status" check), on resources it makes and removes."""
    before = _world(fed)
    env = tmp_path / "env.json"
    env.write_text(json.dumps(environment(fed)))
    report = tmp_path / "newman.json"
    run = subprocess.run(
        [
            _tool("newman"),
            "run",
            str(POSTMAN),
            "-e",
            str(env),
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--timeout-request",
            "60000",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), f"newman wrote no report: {run.stderr[-3000:]} {run.stdout[-3000:]}"
    stats = json.loads(report.read_text())["run"]["stats"]
    assert run.returncode == 0 and stats["assertions"]["failed"] == 0, run.stdout[-8000:]
    collection = json.loads(POSTMAN.read_text())
    total = sum(len(folder["item"]) for folder in collection["item"])
    executions = json.loads(report.read_text())["run"]["executions"]
    # every item ran once (the requests' own scripts send a few more: setup and clean-up,
    # reported as executions of the item that sent them)
    asserted: dict[str, list[str]] = {}
    for e in executions:
        asserted.setdefault(e["item"]["name"], []).extend(
            a["assertion"] for a in e.get("assertions", [])
        )
    assert len(asserted) == total and stats["requests"]["failed"] == 0
    silent = [name for name, checks in asserted.items() if not checks]
    assert silent == []  # every request asserts something
    vague = [
        name for name, checks in asserted.items() if any("documented status" in a for a in checks)
    ]
    assert vague == []  # and what it asserts is its outcome, not "any documented status"
    # the federation's stations and peers as they were: what the requests made, they removed
    after = _world(fed)
    for c in "abc":
        assert after[c][0] == before[c][0], c
        assert set(after[c][1]) >= set(before[c][1]) and not {"postman", "postman-tx"} & set(
            after[c][1]
        ), c
    # the flow ended with the first booking cancelled, after being confirmed
    names = [e["item"]["name"] for e in executions]
    assert names.index("The first booking, as its driver sees it") < names.index(
        "The first booking after cancelling, leg by leg"
    )


def test_the_insomnia_demo_flow_is_the_postman_one(fed):
    insomnia = json.loads(INSOMNIA.read_text())["resources"]
    postman = json.loads(POSTMAN.read_text())["item"]
    demo = [r for r in insomnia if r.get("parentId") == "fld_demo_flow"]
    demo.sort(key=lambda r: r["metaSortKey"])
    [flow] = [f for f in postman if f["name"] == "Demo flow"]
    assert [r["name"] for r in demo] == [i["name"] for i in flow["item"]]
    for request, item in zip(demo, flow["item"], strict=True):
        assert request["method"] == item["request"]["method"]
        tests = next(e["script"]["exec"] for e in item["event"] if e["listen"] == "test")
        assert request["afterResponseScript"].replace("insomnia.", "pm.").split("\n") == tests
        assert any("pm.test(" in line for line in tests)


@pytest.mark.parametrize(
    "tool,args",
    [
        ("spectral", ["lint", "openapi/openapi.yaml", "--fail-severity", "warn"]),
        ("redocly", ["lint", "openapi/openapi.yaml"]),
        ("inso", ["lint", "spec", "openapi/openapi.yaml", "--ci"]),
    ],
)
def test_the_contract_passes_the_ecosystems_linters(tool, args):
    run = subprocess.run(
        [_tool(tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
