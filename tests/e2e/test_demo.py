"""`make demo` (the README's first command): three companies, one broker, 30 simulated cars."""

import json
import subprocess

from tests.support import ROOT


def test_make_demo_runs_full_trips_with_no_stranded_car():
    run = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # the addresses it printed stop with it, and it says how to keep them
    assert "make demo DEMO_ARGS=--keep" in run.stdout.split("state-of-charge traces")[-1]
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1])
    assert summary["cars"] == 30 and summary["stranded"] == 0
    # every car's trip can be planned (a charger at every place, a trip within its range):
    # a car gives up only after losing three races for its windows in a row, and says so
    assert summary["trips_completed"] + summary["gave_up"] == 30, summary
    assert set(summary["gave_up_because"]) <= {"every booking attempt met a conflict"}, summary
    assert summary["trips_completed"] >= 27, summary
    assert all(c["legs_charged"] > 0 for c in summary["per_company"].values())
    assert (ROOT / "demo-run" / "soc.png").stat().st_size > 10_000
    # ready-to-import environments for the federation it ran, with the seven variables
    env = json.loads((ROOT / "demo-run" / "postman_environment.json").read_text())
    keys = {v["key"] for v in env["values"]}
    assert keys == {"registration_token", *(f"{k}_{c}" for k in ("base_url", "admin_token")
                                            for c in "abc")}
    insomnia = json.loads((ROOT / "demo-run" / "insomnia-environment.json").read_text())
    assert insomnia["resources"][0]["data"].keys() == keys


def test_make_demo_installs_the_runtime_only():
    """A first ``make demo`` installs what the demo needs, not the test toolchain."""
    plan = subprocess.run(["make", "-n", "demo", "VENV=/nonexistent/venv"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert installs and all("[test]" not in line for line in installs), installs
    assert any(line.rstrip().endswith("-e .") for line in installs), installs
