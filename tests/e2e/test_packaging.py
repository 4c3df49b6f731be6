"""Static checks of what ships: the image, the compose files, the API collection, the config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import ROOT

BIN = Path(sys.executable).parent


def test_dockerfiles_pass_hadolint():
    for dockerfile in ("docker/Dockerfile", "docker/haproxy/Dockerfile"):
        run = subprocess.run(
            [str(BIN / "hadolint"), dockerfile], cwd=ROOT, capture_output=True, text=True
        )
        assert run.returncode == 0, dockerfile + run.stdout + run.stderr


def test_compose_files_follow_the_compose_specification():
    files = [
        "docker-compose.yml",
        "docker/hosts/company.yml",
        "docker/hosts/broker.yml",
        "docker/hosts/one-machine.yml",
    ]
    run = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_recarga_variable_the_code_reads_is_documented_and_set_in_compose():
    used = set()
    for folder in ("recarga", "service", "mqtt", "carsim", "storage", "handlers", "federation"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"RECARGA_[A-Z_]+", path.read_text()))
    assert "RECARGA_COMPANY" in used and "RECARGA_MQTT_URL" in used
    readme = (ROOT / "README.md").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert sorted(v for v in used if f"`{v}`" not in readme) == []
    # compose sets every variable a container reads; the one a person's own `recarga drive`
    # reads (its car's secret) has no container
    person = {"RECARGA_DEVICE_SECRET"}
    assert sorted(v for v in used - person if f"{v}:" not in compose) == []
    for company in "abc":  # and every host's env file sets the ones a deployment needs
        env = (ROOT / "docker" / "hosts" / f"company-{company}.env").read_text()
        for var in (
            "RECARGA_COMPANY",
            "RECARGA_PORT",
            "RECARGA_PUBLIC_URL",
            "RECARGA_DATABASE_URL",
            "RECARGA_MQTT_URL",
            "RECARGA_PEERS",
            "RECARGA_ADMIN_TOKEN",
            "RECARGA_REGISTRATION_TOKEN",
        ):
            assert f"\n{var}=" in env, (company, var)


def test_the_collections_are_up_to_date_with_the_spec():
    run = subprocess.run(
        [sys.executable, "scripts/insomnia.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_the_insomnia_export_has_every_operation_grouped_by_tag_and_the_demo_flow():
    spec = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    export = json.loads((ROOT / "insomnia" / "recarga.json").read_text())
    assert export["_type"] == "export" and export["__export_format"] == 4
    resources = export["resources"]
    by_id = {r["_id"]: r for r in resources}
    assert len(by_id) == len(resources)
    assert [r["_type"] for r in resources].count("workspace") == 1
    environments = [r for r in resources if r["_type"] == "environment"]
    assert {e["name"] for e in environments} >= {"company A", "company B", "company C"}
    for r in resources:
        if r["_type"] != "workspace":
            assert r["parentId"] in by_id, r["_id"]
    requests = [r for r in resources if r["_type"] == "request"]
    for item in spec["paths"].values():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            [req] = [
                r for r in requests if r.get("description") == f"operationId: {op['operationId']}"
            ]
            assert req["method"] == method.upper()
            assert by_id[req["parentId"]]["name"] == op["tags"][0]
            if "requestBody" in op:  # a usable example body, once its variables are filled
                # a variable standing for a value (after a key) is any JSON; one inside a string is text
                text = re.sub(r"(:\s*)\{\{ _\.\w+ \}\}", r"\1null", req["body"]["text"])
                json.loads(re.sub(r"\{\{ _\.\w+ \}\}", "text", text))
    demo = sorted(
        (r for r in requests if r["parentId"] == "fld_demo_flow"), key=lambda r: r["metaSortKey"]
    )
    names = " ".join(r["name"] for r in demo)
    for step in ("Register", "driver", "Plan", "Book", "alternatives", "alternative", "Cancel"):
        assert step in names, step
    postman = json.loads((ROOT / "insomnia" / "recarga.postman_collection.json").read_text())
    assert postman["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert sum(len(f["item"]) for f in postman["item"]) == len(requests)


def test_make_containers_runs_the_runbooks_commands():
    """docs/deploy.md's compose commands are the ones scripts/containers.py runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("containers", ROOT / "scripts" / "containers.py")
    containers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(containers)
    runbook = (ROOT / "docs" / "deploy.md").read_text()
    hosts = containers.Stack(hosts=True, address="127.0.0.1")
    broker = " ".join(hosts.compose(None))
    assert f"{broker} up -d" in runbook
    for c in "abc":
        command = " ".join(hosts.compose(c)).replace(" -f docker/hosts/one-machine.yml", "")
        assert f"{command} up -d" in runbook, command
    assert "-f docker/hosts/one-machine.yml" in runbook
    assert "docker build -f docker/Dockerfile -t recarga:latest ." in runbook
    assert "recarga:latest simulate" in runbook


def test_the_consoles_vendored_libraries_are_what_npm_pinned_with_their_licences():
    """console/static/vendor is copied from node_modules by `make vendor`: the same bytes
    as the versions package-lock.json pins, each with its licence."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import vendor

    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert (
        lock["node_modules/echarts"]["version"]
        == json.loads((ROOT / "package.json").read_text())["devDependencies"]["echarts"]
    )
    for name, source in vendor.FILES.items():
        copied = ROOT / "console" / "static" / "vendor" / name
        assert copied.read_bytes() == (ROOT / source).read_bytes(), f"{name}: run make vendor"
    assert {n for n in vendor.FILES if "LICENSE" in n} >= {
        "echarts.LICENSE.txt",
        "zrender.LICENSE.txt",
        "tslib.LICENSE.txt",
    }


def test_the_console_loads_nothing_from_elsewhere():
    """Offline by construction: every page and script names only this server's files."""
    static = ROOT / "console" / "static"
    for path in [static / "index.html", static / "console.css", *static.glob("js/*.js")]:
        text = path.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path
        assert "cdn" not in text.lower(), path


def test_a_built_wheel_in_a_clean_virtualenv_serves_and_simulates(tmp_path):
    """The distribution is complete: a wheel (no source tree beside it) installed into a new
    virtualenv serves the API, Swagger UI and the console, and runs the simulator."""
    import os
    import shutil
    import time

    import httpx

    from tests.broker import Mosquitto
    from tests.support import free_port

    # built from the repository's files alone, in a copy: setuptools' build/ folder stays out
    # of the working tree (and a stale one, holding deleted modules, out of the wheel)
    source = tmp_path / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools says nothing (pip's own "WARNING:" lines are this machine's configuration)
    assert [line for line in built.stderr.splitlines() if "Warning" in line] == []
    [wheel] = wheels.glob("recarga-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    broker = Mosquitto(tmp_path).start()
    port = free_port()
    elsewhere = tmp_path / "elsewhere"  # nothing of the source tree in reach
    elsewhere.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RECARGA_COMPANY": "a",
        "RECARGA_ADMIN_TOKEN": "wheel-admin-token",
        "RECARGA_PORT": str(port),
        "RECARGA_HOST": "127.0.0.1",
        "RECARGA_MQTT_URL": broker.url,
        "RECARGA_DATABASE_URL": f"sqlite:///{elsewhere / 'a.db'}",
        # the server and the simulator share a demo clock: the trips take seconds
        "RECARGA_DEMO_CLOCK": f"{time.time():.3f}@1000-86400",
    }
    recarga = str(venv / "bin" / "recarga")
    seeded = subprocess.run(
        [recarga, "seed", "--seed", "1", "--share", "1"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    server = subprocess.Popen(
        [recarga, "serve"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).json()["mqtt"] == "connected":
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the wheel's server"
            time.sleep(0.3)
        assert httpx.get(f"{base}/api/v1/ui/").status_code == 200
        assert "Recarga" in httpx.get(f"{base}/console/").text
        assert httpx.get(f"{base}/console/js/main.js").status_code == 200
        assert httpx.get(f"{base}/api/v1/network").json()["places"]
        sim = subprocess.run(
            [recarga, "simulate", "--url", broker.url, "--companies", f"a={base}", "--cars", "2"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert sim.returncode == 0, sim.stdout[-2000:] + sim.stderr[-2000:]
        summary = json.loads(sim.stdout.strip().splitlines()[-1])
        assert summary["cars"] == 2 and summary["stranded"] == 0
        assert summary["trips_completed"] + summary["gave_up"] == 2, summary
    finally:
        server.terminate()
        server.wait(20)
        broker.kill()
