"""The benchmark scripts keep working: each quick run ends with its one-line JSON summary.

Timings are not asserted here (they are measured by the scripts, on a quiet machine, and
reported in docs/performance.md); what is checked is that every headline figure is produced.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT


def quick(script: str, timeout: float, *more: str) -> dict:
    run = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick", *more],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_plan_bench_reports_p50_and_p95_per_size_and_k():
    summary = quick("plan.py", 60)
    rows = {(r["stations"], r["options"]): r for r in summary["results"]}
    assert {(20000, 1), (20000, 3)} <= set(rows)
    for row in rows.values():
        assert row["feasible"] == row["trips"] > 0
        assert 0 < row["p50_ms"] <= row["p95_ms"]


def test_booking_bench_reports_both_modes_and_the_ratio_per_concurrency():
    summary = quick("booking.py", 150)
    assert [r["clients"] for r in summary["results"]] == [1, 8, 32]
    for row in summary["results"]:
        for mode in ("federated", "centralised"):
            figures = row[mode]
            assert figures["bookings"] > 0 and figures["throughput"] > 0
            assert 0 < figures["p50_ms"] <= figures["p99_ms"]
            cpu = figures["cpu_ms_per_booking"]
            assert set(cpu) == {"a", "b", "c", "postgres"} and cpu["b"] > 0
        assert row["federated"]["cpu_ms_per_booking"]["a"] > 0  # a peer did work
        assert row["ratio"] > 0
    # the open-loop curve: Poisson arrivals at fractions of the measured capacity
    assert [p["fraction_of_capacity"] for p in summary["open_loop"]] == [0.5, 1.0]
    for point in summary["open_loop"]:
        assert point["offered"] > 0 and point["bookings"] > 0
        assert 0 < point["p50_ms"] <= point["p99_ms"]


def test_booking_bench_compares_the_coordinating_company_as_one_and_two_processes():
    summary = quick("booking.py", 150, "--replicas", "--no-open-loop", "--concurrency", "8")
    [row] = summary["replicas"]
    assert row["clients"] == 8
    for label in ("one_process", "two_processes"):
        figures = row[label]
        assert figures["bookings"] > 0 and figures["throughput"] > 0
        assert figures["cpu_ms_per_booking"]["b"] > 0
    assert row["throughput_ratio"] > 0 and row["cpu_ratio"] > 0


def test_mqtt_bench_reports_the_cars_one_server_sustains():
    summary = quick("mqtt.py", 120)
    assert summary["results"] and summary["sustained_cars_1hz"] > 0
    for row in summary["results"]:
        assert row["sent"] > 0 and row["stored"] == row["sent"]


def test_http_bridge_bench_measures_both_bridges_on_each_path():
    summary = quick("http_bridge.py", 120)
    assert set(summary["medians"]) == {"a2wsgi", "thread-loop"}
    for bridge in summary["medians"].values():
        assert set(bridge) == {"GET /health", "GET /stations/{id}"}
        for figures in bridge.values():
            assert figures["cpu_ms_median"] > 0 and figures["wall_ms_median"] > 0
    assert all(r > 0 for r in summary["cpu_ratio_thread_loop_to_a2wsgi"].values())


@pytest.mark.parametrize(
    "compare, modes",
    [
        ("pool", ("no round trip (kept)", "SELECT 1 per checkout")),
        ("statements", ("built once (kept)", "built per call")),
    ],
)
def test_pool_checkout_bench_reports_both_modes_and_their_ratio(compare, modes):
    summary = quick("pool_checkout.py", 120, "--compare", compare)
    assert summary["compare"] == compare
    for mode in modes:
        figures = summary[mode]
        assert figures["wall_ms"] > 0 and figures["cpu_ms"] > 0 and figures["db_cpu_ms"] >= 0
    assert set(summary["ratio"]) >= {"wall_ms", "cpu_ms"}


def test_booking_profile_attributes_each_process_time_to_its_layers():
    summary = quick("booking_profile.py", 120)
    for mode in ("federated", "centralised"):
        assert summary[mode]["bookings"] > 0
        coordinator = summary[mode]["processes"]["b"]
        assert coordinator["gil_ms_per_booking"] > 0
        assert 0.5 < sum(coordinator["shares"].values()) <= 1.01  # each share rounded
    # a federated booking makes the participants work, through the HTTP stack and the database
    for company in "ac":
        shares = summary["federated"]["processes"][company]["shares"]
        assert summary["federated"]["processes"][company]["gil_ms_per_booking"] > 0
        assert {"waitress", "connexion", "peewee"} <= set(shares)


def test_peer_client_bench_compares_the_three_clients():
    summary = quick("peer_client.py", 60)
    assert set(summary["results"]) == {"httpx", "urllib3", "http.client"}
    for row in summary["results"].values():
        assert 0 < row["cpu_us_median"] <= row["wall_us_median"] * 2
