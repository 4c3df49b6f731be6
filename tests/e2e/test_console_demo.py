"""The operator's console during a running demo (scripts/demo.py --keep), in Chromium: the
timeline's "now" is the world's (the demo's clock); past sessions read completed and current
ones charging, inside their windows; none is completed or charging ahead of now; the cars move
on the map. What the console draws is compared with what the company's API answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from booking.session import EARLY
from tests.e2e.test_console import CHROMIUM_ARGS, LOADED, Console, chromium_path
from tests.support import ROOT

RUN = ROOT / "demo-run"


@pytest.fixture(scope="module")
def demo():
    """A small kept demo: 12 cars, the world 600 times faster; its whole process group is
    killed at the end."""
    env_file = RUN / "demo.env"
    env_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--keep", "--cars", "12", "--speed", "600"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert proc.poll() is None, "the demo stopped before its federation was up"
            assert time.monotonic() < deadline, "the demo's federation never came up"
            time.sleep(0.2)
        values = dict(
            line.split("=", 1)
            for line in env_file.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        yield values
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_timeline_shows_the_demo_world_now_charging_inside_windows(demo):
    api, admin = demo["API_A"], demo["ADMIN_TOKEN_A"]
    console = api.removesuffix("/api/v1") + f"/console/#admin={admin}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tab = Console(browser, console)
        try:
            tab.page.wait_for_selector("#map[data-stations]", timeout=LOADED)
            tab.page.wait_for_selector("#timeline canvas", timeout=LOADED)

            def drawn() -> dict:
                return tab.js("""() => {
                    const chart = echarts.getInstanceByDom(document.getElementById('timeline'));
                    const option = chart && chart.getOption();
                    const series = (option && option.series && option.series[0]) || {};
                    const now = ((series.markLine || {}).data || [{}])[0].xAxis;
                    const map = echarts.getInstanceByDom(document.getElementById('map'));
                    const cars = map && map.getOption().series.find((s) => s.id === 'cars');
                    return { now, live: document.getElementById('live').innerText,
                             reservations: (series.data || []).map((d) => d.res),
                             cars: cars ? cars.data.length : 0 }; }""")

            seen: dict = {}

            def charging_now() -> bool:
                """Past sessions completed and a current one charging, both on the timeline."""
                seen.update(drawn())
                states = {r["state"] for r in seen["reservations"]}
                return {"charging", "completed"} <= states

            deadline = time.monotonic() + 120
            while not charging_now():
                assert time.monotonic() < deadline, f"no session charging on a's timeline: {seen}"
                time.sleep(0.25)
            now = datetime.fromtimestamp(seen["now"] / 1000).astimezone()
            assert "the demo's clock" in seen["live"], seen["live"]
            # the world's now is the demo's: a day behind at most, not the wall clock's
            assert now < datetime.now().astimezone() - timedelta(minutes=10)
            assert seen["cars"] > 0  # cars on the map
            assert "confirmed" in {r["state"] for r in seen["reservations"]}  # and ahead
            where = os.environ.get("RECARGA_SCREENSHOTS")
            if where:  # README's picture of the operator view: this live demo (make screenshots)
                tab.page.screenshot(path=str(Path(where) / "console-operator.png"), full_page=True)
            for r in seen["reservations"]:
                start, end = _when(r["start"]), _when(r["end"])
                if r["state"] == "charging":  # inside its window, as the rule allows
                    assert start - EARLY <= now + timedelta(minutes=30) and now <= end + timedelta(
                        minutes=30
                    ), (r, now)
                if r["state"] == "completed":
                    assert start <= now + timedelta(minutes=30), (r, now)  # none ahead of now
            # what the console drew is what the company answers for those reservations
            truth = httpx.get(
                f"{api}/monitor/timeline", headers={"Authorization": f"Bearer {admin}"}, timeout=30
            ).json()
            states = {r["id"]: r["state"] for r in truth["reservations"]}
            later = {
                "charging": {"charging", "completed"},
                "confirmed": {"confirmed", "charging", "completed", "no_show"},
                "completed": {"completed"},
            }
            for r in seen["reservations"]:
                if r["id"] in states and r["state"] in later:
                    assert states[r["id"]] in later[r["state"]], (r, states[r["id"]])
            assert [e for e in tab.errors if "404" not in e] == []
        finally:
            tab.close()
            browser.close()
