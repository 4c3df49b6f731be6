"""`make demo` (the README's first command): three companies, one broker, 30 simulated cars."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from datetime import datetime

from booking.clock import clock_from
from tests.support import ROOT


def test_make_demo_runs_full_trips_with_no_stranded_car():
    # its own process group: on a timeout the demo's servers and cars go with it
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"make demo took over 400 s: {out[-3000:]}{err[-3000:]}") from None
    run = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
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
    # every session happened inside its window, on the world's clock the servers and the cars
    # shared: none refused, none left unfinished when the clock caught up with real time
    assert summary["unfinished"] == 0 and summary["charge_refused"] == 0, summary
    assert 0 < summary["world_hours"] < 48 and summary["world_hours_to_spare"] > 0, summary
    world_now = clock_from(summary["clock"]).now()
    for company in "abc":
        with contextlib.closing(sqlite3.connect(ROOT / "demo-run" / f"company-{company}.db")) as db:
            rows = db.execute("SELECT state, start_at FROM reservation").fetchall()
        states = Counter(state for state, _ in rows)
        assert states["held"] == 0 and states["charging"] == 0, (company, states)
        assert states["completed"] > 0, (company, states)
        # nothing completed in the future: each completed window had begun by the world's now
        assert all(
            datetime.fromisoformat(start.replace("Z", "+00:00")) <= world_now
            for state, start in rows
            if state == "completed"
        ), company
    assert all(c["legs_charged"] > 0 for c in summary["per_company"].values())
    assert (ROOT / "demo-run" / "soc.png").stat().st_size > 10_000
    # ready-to-import environments for the federation it ran, with the seven variables
    env = json.loads((ROOT / "demo-run" / "postman_environment.json").read_text())
    keys = {v["key"] for v in env["values"]}
    assert keys == {
        "registration_token",
        *(f"{k}_{c}" for k in ("base_url", "admin_token") for c in "abc"),
    }
    insomnia = json.loads((ROOT / "demo-run" / "insomnia-environment.json").read_text())
    assert insomnia["resources"][0]["data"].keys() == keys


def test_make_demo_installs_the_runtime_only():
    """A first ``make demo`` installs what the demo needs, not the test toolchain."""
    plan = subprocess.run(
        ["make", "-n", "demo", "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert installs and all("[test]" not in line for line in installs), installs
    assert any(line.rstrip().endswith("-e .") for line in installs), installs
