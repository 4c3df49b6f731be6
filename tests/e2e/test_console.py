"""The console in a real browser (Chromium driven by Playwright) against three real servers on
PostgreSQL with a real Mosquitto: the operator view, the timeline and the map following what
happens through REST and MQTT within 2 s, and two drivers racing for the same windows.

The screenshots in README are the ones these tests take: ``make screenshots`` runs this module
with ``RECARGA_SCREENSHOTS=docs/img``; otherwise they go to the test's temporary directory."""

from __future__ import annotations

import math
import os
import queue
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import sync_playwright

from mqtt import topics
from tests.federation import Federation

WITHIN = 2.0  # seconds: what the console promises for anything it shows live
LOADED = 30_000  # ms the first load may take (charts, the first gather)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REFUSED_409 = "the server responded with a status of 409"


def chromium_path() -> str:
    path = (
        os.environ.get("RECARGA_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail(
            "the console tests need Chromium: install Debian's 'chromium' package "
            "(make test does when it can) or set RECARGA_CHROMIUM to its executable"
        )
    return path


@pytest.fixture(scope="module")
def fed(tmp_path_factory, broker):
    f = Federation(
        tmp_path_factory.mktemp("console"), RECARGA_MQTT_URL=broker.url, RECARGA_PREPARE_TIMEOUT="5"
    )
    for n, server in enumerate(f.servers.values()):  # the demo's stations (make demo)
        server.run_cli("seed", "--seed", str(7 + n), "--share", "0.6", "--cover", f"{n}/3")
    f.start()
    yield f
    f.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("RECARGA_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """One browser tab on a company's console, recording what the page logs as an error."""

    def __init__(
        self, browser, url: str, width: int = 1400, height: int = 1000, clock: bool = False
    ):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        if clock:  # the page's timers and Date under the test's hand (page.clock)
            self.page.clock.install()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e.stack or e}"))
        self.page.goto(url)

    def js(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def map_stations(self) -> dict[str, str]:
        """Station id -> status, as drawn on the operator's map (the chart's own data)."""
        return self.js("""() => {
            const chart = echarts.getInstanceByDom(document.getElementById('map'));
            const out = {};
            for (const s of chart.getOption().series)
                if (s.id && s.id.startsWith('stations-')) for (const d of s.data) out[d.name] = d.status;
            return out; }""")

    def timeline_ids(self) -> set[str]:
        return set(
            self.js(
                "() => (document.getElementById('timeline').dataset.reservations"
                " || '').split(' ').filter(Boolean)"
            )
        )

    def close(self) -> None:
        self.context.close()


def operator(browser, fed, company: str) -> Console:
    tab = Console(
        browser, f"{fed.servers[company].url}/console/#admin={fed.servers[company].admin_token}"
    )
    tab.page.wait_for_selector("#map[data-stations]", timeout=LOADED)
    return tab


def driver(browser, fed, company: str, car: str, clock: bool = False) -> Console:
    token = fed.issue_driver(company, f"console {car}")["Authorization"].split()[1]
    tab = Console(
        browser,
        f"{fed.servers[company].url}/console/#view=driver&driver={token}",
        height=1400,
        clock=clock,
    )
    tab.page.wait_for_selector("#plan-button", timeout=LOADED)
    tab.page.fill("#car", car)
    return tab


def soon(hours: float) -> datetime:
    """A whole minute ``hours`` from now (the operator's timeline shows the next 24 h)."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def until(check, what, timeout: float = 10.0) -> float:
    """Seconds until ``check()`` holds (polled every 20 ms); fails past ``timeout``.
    ``what``: what was awaited, or a function saying it with what is seen instead."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, (
            f"never happened: {what() if callable(what) else what}"
        )
        time.sleep(0.02)
    return time.monotonic() - began


def test_operator_view_loads_without_errors_and_maps_every_station(browser, fed):
    tab = operator(browser, fed, "a")
    try:
        expected = set()
        for company in fed.servers:
            body = fed.http.get(f"{fed.api(company)}/stations", params={"limit": 1000}).json()
            assert body["total"] == len(body["items"])
            expected |= {s["id"] for s in body["items"]}
        until(lambda: set(tab.map_stations()) == expected, "every company's stations on the map")
        assert len(tab.map_stations()) == len(expected) > 100
        assert set(tab.map_stations().values()) <= {"available", "reserved", "charging", "offline"}
        tab.page.wait_for_selector("#federation table", timeout=LOADED)
        assert "no peers" not in tab.page.inner_text("#federation")
        assert tab.errors == []
    finally:
        tab.close()


def test_a_booking_made_at_another_company_comes_and_goes_on_the_timeline_within_2s(browser, fed):
    tab = operator(browser, fed, "a")
    try:
        tab.page.wait_for_selector("#timeline canvas", timeout=LOADED)
        mine = fed.http.get(f"{fed.api('a')}/stations", params={"place": "recife"}).json()
        theirs = fed.http.get(f"{fed.api('c')}/stations", params={"place": "aracaju"}).json()
        legs = [
            {
                "company": s["company"],
                "station_id": s["id"],
                "connector_id": s["connectors"][-1]["id"],
                "start": iso(soon(hours)),
                "end": iso(soon(hours) + timedelta(minutes=30)),
            }
            for s, hours in ((mine["items"][0], 3), (theirs["items"][0], 6))
        ]
        r = fed.book("b", {"car_id": "car-timeline", "legs": legs})
        assert r.status_code == 201, r.text
        booking = r.json()["booking_id"]
        answered = time.monotonic()
        fed.eventually(lambda: fed.reservations("a", booking), what="the leg at a")
        leg_at_a = fed.reservations("a", booking)[0]["id"]
        until(lambda: leg_at_a in tab.timeline_ids(), "the leg on a's timeline")
        assert time.monotonic() - answered <= WITHIN

        # what a hover shows: the booking's legs at every company, from its coordinator
        hover = fed.http.get(
            f"{fed.api('a')}/monitor/reservations/{leg_at_a}/booking",
            headers=fed.servers["a"].admin,
        )
        assert hover.status_code == 200, hover.text
        assert hover.json()["coordinator"] == "b"
        assert {(leg["company"], leg["station_id"]) for leg in hover.json()["legs"]} == {
            (leg["company"], leg["station_id"]) for leg in legs
        }

        r = fed.http.delete(f"{fed.api('b')}/bookings/{booking}", headers=fed.driver["b"])
        assert r.status_code == 200, r.text
        cancelled = time.monotonic()
        until(lambda: leg_at_a not in tab.timeline_ids(), "the leg leaving a's timeline")
        assert time.monotonic() - cancelled <= WITHIN
        assert tab.errors == []
    finally:
        tab.close()


def test_a_station_whose_client_dies_turns_offline_on_the_map_within_2s(browser, fed, broker):
    station = fed.http.get(f"{fed.api('a')}/stations", params={"place": "natal"}).json()
    station_id = station["items"][0]["id"]
    seen: queue.Queue = queue.Queue()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = lambda c, u, msg: seen.put(msg.payload)
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe(topics.station("a", station_id, "status"), qos=1)
    watcher.loop_start()
    tab = operator(browser, fed, "a")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carsim.station",
            "--url",
            broker.url,
            "--company",
            "a",
            "--station",
            station_id,
        ]
    )
    try:
        assert b"available" in seen.get(timeout=15)  # the station is connected
        until(lambda: tab.map_stations().get(station_id) == "available", "the station online")
        proc.kill()  # no DISCONNECT: the broker publishes its Last Will
        proc.wait()
        killed = time.monotonic()
        assert b"offline" in seen.get(timeout=15)
        until(
            lambda: tab.map_stations().get(station_id) == "offline",
            lambda: (
                f"the station offline; the server's map says "
                f"{_server_map(fed)['status'].get(station_id)!r}, the console's "
                f"{tab.map_stations().get(station_id)!r}, its poll "
                f"{tab.page.inner_text('#live')!r}"
            ),
        )
        assert time.monotonic() - killed <= WITHIN
        assert tab.errors == []
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.loop_stop()
        watcher.disconnect()
        tab.close()


def _server_map(fed) -> dict:
    return fed.http.get(f"{fed.api('a')}/monitor/map", headers=fed.servers["a"].admin).json()


def _plan(tab: Console, departure: datetime) -> dict:
    """Plan João Pessoa → Feira de Santana in the driver view; the API's answer."""
    tab.page.fill("#departure", departure.strftime("%Y-%m-%dT%H:%M"))
    tab.page.select_option("#origin", "joao-pessoa")
    tab.page.select_option("#destination", "feira-de-santana")
    with tab.page.expect_response(lambda r: r.url.endswith("/plans")) as answer:
        tab.page.click("#plan-button")
    tab.page.wait_for_selector("#option-0", timeout=LOADED)
    return answer.value.json()


def js_round(x: float) -> int:
    """JavaScript's Math.round (halves up), which the console uses."""
    return math.floor(x + 0.5)


def _legs(tab: Console) -> list[list[str]]:
    return tab.js(
        "() => [...document.querySelectorAll('#booking tr.leg')].map("
        "r => [...r.cells].map(c => c.innerText.trim()))"
    )


def test_two_drivers_race_for_the_same_windows_and_both_end_confirmed(browser, fed, shots):
    first = driver(browser, fed, "a", "car-console-1")
    second = driver(browser, fed, "a", "car-console-2")
    try:
        departure = soon(2)  # the trip on the operator's next-24-hour timeline
        plan = _plan(first, departure)
        # each stop as the plan gives it: the place first, arrival, charge, departure, energy
        rows = first.js(
            "() => [...document.querySelectorAll('#option-0 table.stops tbody tr')]"
            ".map((tr) => tr.innerText)"
        )
        stops = plan["options"][0]["stops"]
        assert len(rows) == len(stops)
        names = {
            p["id"]: p["name"] for p in fed.http.get(f"{fed.api('a')}/network").json()["places"]
        }
        for row, stop in zip(rows, stops, strict=True):
            assert row.startswith(names[stop["place_id"]]), row
            for figure in (
                stop["arrival"][11:16],
                f"{js_round(stop['soc_arrival'] * 100)} %",
                f"{js_round(stop['charge_minutes'])} min",
                stop["departure"][11:16],
                f"{js_round(stop['soc_target'] * 100)} %",
                f"{stop['energy_kwh']:.1f} kWh",
                f"R$ {stop['cost']:.2f}",
            ):
                assert figure in row, (figure, row)
        _plan(
            second, departure
        )  # both plan before either books: the same options, the same windows
        assert first.page.inner_text("#option-0 table") == second.page.inner_text("#option-0 table")

        first.page.click("[data-book='0']")
        first.page.wait_for_selector("#booking-state", timeout=LOADED)
        assert first.page.inner_text("#booking-state") == "confirmed"
        legs = _legs(first)
        assert len({leg[1] for leg in legs}) >= 2, legs  # legs at several companies
        assert all(leg[4] == "confirmed" for leg in legs), legs

        second.page.click("[data-book='0']")
        second.page.wait_for_selector("#replace-legs", timeout=LOADED)  # the conflict
        refused = second.page.locator(".conflict").count()
        assert refused >= 1
        assert second.page.locator(".conflict input[type=radio]:checked").count() == refused
        # in the driver's words, with the hold's time left counting down
        title = second.page.inner_text("#conflict-title")
        assert "taken by another driver" in title and "PATCH" not in title, title
        assert re.search(r"kept for you for \d+:\d\d more", second.page.inner_text("#hold-left"))
        second.page.screenshot(path=str(shots / "console-driver-conflict.png"), full_page=True)
        second.page.click("#replace-legs")
        second.page.wait_for_selector("#booking-state", timeout=LOADED)
        assert second.page.inner_text("#booking-state") == "confirmed"
        assert all(leg[4] == "confirmed" for leg in _legs(second))
        second.page.screenshot(path=str(shots / "console-driver.png"), full_page=True)

        assert first.errors == []
        # the browser logs every 4xx answer to a fetch; 409 is the contract's "conflict"
        assert [e for e in second.errors if REFUSED_409 not in e] == []
    finally:
        first.close()
        second.close()


def test_operator_screenshot_shows_the_bookings(browser, fed, tmp_path):
    """(README's picture of the operator view is taken during a live demo instead:
    tests/e2e/test_console_demo.py.)"""
    tab = operator(browser, fed, "a")
    try:
        until(lambda: len(tab.timeline_ids()) >= 2, "the drivers' legs on a's timeline")
        tab.page.wait_for_selector("#federation td", timeout=LOADED)
        tab.page.screenshot(path=str(tmp_path / "console-operator.png"), full_page=True)
        assert (tmp_path / "console-operator.png").stat().st_size > 50_000
        assert tab.errors == []
    finally:
        tab.close()


def test_the_console_works_on_a_phone_screen(browser, fed):
    tab = Console(
        browser,
        f"{fed.servers['a'].url}/console/#admin={fed.servers['a'].admin_token}",
        width=390,
        height=844,
    )
    try:
        tab.page.wait_for_selector("#map[data-stations]", timeout=LOADED)
        tab.page.wait_for_selector("#federation td", timeout=LOADED)
        wide = tab.js("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 391 && e.offsetParent !== null)
            .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)""")
        width = tab.js("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen: {wide}"
        tab.page.keyboard.press("Tab")  # keyboard: the tabs are reachable and switch views
        tab.page.focus("#tab-operator")
        tab.page.keyboard.press("ArrowRight")
        assert tab.page.get_attribute("#tab-driver", "aria-selected") == "true"
        assert tab.errors == []
    finally:
        tab.close()


def test_an_operator_issues_rotates_and_revokes_a_driver_credential(browser, fed):
    """The console's driver credentials, checked against GET /drivers and against the API's
    own answer to each token."""
    server = fed.servers["a"]
    tab = operator(browser, fed, "a")
    tab.page.on("dialog", lambda d: d.accept())

    def answers(token: str) -> int:
        return httpx.get(
            f"{server.api}/bookings/bk-none", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    def listed(driver_id: str) -> dict:
        return next(
            d
            for d in httpx.get(f"{server.api}/drivers", headers=server.admin).json()["items"]
            if d["driver_id"] == driver_id
        )

    try:
        tab.page.fill("#driver-name", "Ana's phone")
        tab.page.click("#driver-issue button[type=submit]")
        first = tab.page.wait_for_selector("#driver-token-value", timeout=LOADED).inner_text()
        assert answers(first) == 404  # a valid driver: that booking is not there
        row = tab.page.wait_for_selector("#drivers tr[data-state=valid]", timeout=LOADED)
        driver_id = row.get_attribute("data-driver")
        assert listed(driver_id)["name"] == "Ana's phone" and "Ana's phone" in row.inner_text()
        tab.page.click(f"#drivers tr[data-driver='{driver_id}'] button[data-action=rotate]")
        until(lambda: tab.page.inner_text("#driver-token-value") != first, "a new token shown")
        second = tab.page.inner_text("#driver-token-value")
        assert answers(first) == 401 and answers(second) == 404
        tab.page.click(f"#drivers tr[data-driver='{driver_id}'] button[data-action=revoke]")
        tab.page.wait_for_selector(
            f"#drivers tr[data-driver='{driver_id}'][data-state=revoked]", timeout=LOADED
        )
        assert answers(second) == 401 and listed(driver_id)["revoked_at"]
        assert not tab.errors, tab.errors
    finally:
        tab.close()


def test_a_drivers_booking_survives_a_second_click_and_a_reload(browser, fed):
    """The driver view books once per plan, and "my bookings" shows what GET /bookings says,
    after a reload too; a wrong credential goes back to the sign-in form."""
    server = fed.servers["a"]
    tab = driver(browser, fed, "a", "car-console-reload")
    try:
        _plan(tab, soon(30))
        tab.page.click("[data-book='0']")
        tab.page.wait_for_selector("#booking-state", timeout=LOADED)
        booking_id = tab.page.inner_text("#booking-id")
        assert tab.page.locator("[data-book]:not([disabled])").count() == 0  # no second booking
        tab.page.reload()
        row = tab.page.wait_for_selector(
            f"#my-bookings tr[data-booking='{booking_id}']", timeout=LOADED
        )
        token = tab.page.evaluate("() => sessionStorage.getItem('recarga-driver')")
        truth = httpx.get(
            f"{server.api}/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert truth["state"] in row.inner_text() and truth["car_id"] in row.inner_text()
        assert tab.page.locator("#my-bookings tr[data-booking]").count() == 1
        tab.page.click(f"#my-bookings tr[data-booking='{booking_id}'] button[data-cancel]")
        tab.page.wait_for_selector(
            f"#my-bookings tr[data-booking='{booking_id}'] .tag.cancelled", timeout=LOADED
        )
        assert (
            httpx.get(
                f"{server.api}/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"}
            ).json()["state"]
            == "cancelled"
        )
        assert tab.errors == []
    finally:
        tab.close()
    wrong = Console(browser, f"{server.url}/console/#view=driver&driver=not-a-real-credential-x")
    try:
        wrong.page.wait_for_selector("#driver-login:not([hidden])", timeout=LOADED)
        assert "refused" in wrong.page.inner_text("#driver-login .hint")
        assert wrong.page.locator("#driver-view").is_hidden()
    finally:
        wrong.close()


def test_the_federation_panel_and_the_hover_say_what_get_bookings_says(browser, fed, broker):
    """Each row of the federation panel shows the booking's state as GET /bookings/{id} gives
    it (a trip charged to the end reads completed, not the protocol's record), and the hover
    of a reservation shows the booking and every leg as GET /bookings/{id} does."""
    from mqtt.rpc import CarLink

    admin = fed.servers["b"].admin
    north, south = _quiet_station(fed, "a"), _quiet_station(fed, "c")

    def legs(hours: float, connector: int = -1) -> list[dict]:
        return [
            {
                "company": s["company"],
                "station_id": s["id"],
                "connector_id": s["connectors"][connector]["id"],
                "start": iso(soon(hours + shift)),
                "end": iso(soon(hours + shift) + timedelta(minutes=30)),
            }
            for s, shift in ((north, 0), (south, 4))
        ]

    def book(car: str, body_legs: list[dict]) -> httpx.Response:
        return fed.book("b", {"car_id": car, "legs": body_legs})

    confirmed = book("car-panel-1", legs(40)).json()["booking_id"]
    aborted = book("car-panel-2", legs(40))
    assert aborted.status_code == 409, aborted.text
    cancelled = book("car-panel-3", legs(44)).json()["booking_id"]
    assert (
        fed.http.delete(f"{fed.api('b')}/bookings/{cancelled}", headers=fed.driver["b"]).status_code
        == 200
    )
    # a trip charged and finished: the station's company says completed (its window begins
    # in five minutes: a session may start 15 minutes early, booking/session.py)
    trip = book("car-panel-4", legs(5 / 60)[:1]).json()
    completed = trip["booking_id"]
    for leg in trip["legs"]:  # the car talks to each station's company
        link = CarLink(broker.url, leg["company"], "car-panel-4").wait_connected()
        try:
            for op in ("charge_start", "charge_finish"):
                answer = link.call(
                    op, {"booking_id": completed, "connector_id": leg["connector_id"]}
                )
                assert answer["ok"], answer
        finally:
            link.close()
    ours = {confirmed, aborted.json()["booking_id"], cancelled, completed}

    def truth(booking_id: str) -> dict:
        r = fed.http.get(f"{fed.api('b')}/bookings/{booking_id}", headers=admin)
        assert r.status_code == 200, r.text
        return r.json()

    expected = {b: truth(b) for b in ours}
    assert {expected[b]["state"] for b in ours} == {
        "confirmed",
        "aborted",
        "cancelled",
        "completed",
    }
    tab = operator(browser, fed, "b")
    try:

        def panel() -> dict[str, str]:
            return tab.js("""() => Object.fromEntries([...document.querySelectorAll(
                '#federation tbody tr')].filter((tr) => tr.cells.length === 5).map((tr) =>
                [tr.cells[1].innerText.trim(), tr.cells[2].querySelector('.tag').innerText]))""")

        until(
            lambda: ours <= set(panel()),
            lambda: f"our bookings in the panel: {panel()}",
            timeout=LOADED / 1000,
        )
        assert {b: panel()[b] for b in ours} == {b: expected[b]["state"] for b in ours}
        assert tab.errors == []
    finally:
        tab.close()
    # the hover, at a company that holds a leg of each live booking (a's reservations)
    for booking_id in (confirmed, completed):
        [reservation] = [
            r
            for r in fed.reservations("a", booking_id)
            if r["state"] not in ("aborted", "preempted")
        ]
        hover = fed.http.get(
            f"{fed.api('a')}/monitor/reservations/{reservation['id']}/booking",
            headers=fed.servers["a"].admin,
        )
        assert hover.status_code == 200, hover.text
        seen, told = hover.json(), expected[booking_id]
        assert seen["state"] == told["state"]
        assert seen["legs"] == told["legs"], (seen, told)


def test_a_hold_that_runs_out_is_said_plainly(browser, fed):
    """The conflict card counts the hold down; when it runs out it says the other stops were
    released and no longer offers the replacement (the page's clock is moved on)."""
    first = driver(browser, fed, "c", "car-console-lapse-1")
    second = driver(browser, fed, "c", "car-console-lapse-2", clock=True)
    try:
        departure = soon(7)
        _plan(first, departure)
        _plan(second, departure)
        first.page.click("[data-book='0']")
        first.page.wait_for_selector("#booking-state", timeout=LOADED)
        second.page.click("[data-book='0']")
        second.page.wait_for_selector("#replace-legs", timeout=LOADED)
        before = second.page.inner_text("#hold-left")
        assert re.search(r"kept for you for \d+:\d\d more", before), before
        second.page.clock.fast_forward("01:00")
        assert second.page.inner_text("#hold-left") != before  # it counts down
        second.page.clock.fast_forward("30:00")
        second.page.wait_for_selector("#hold-left.error", timeout=LOADED)
        assert "Time is up" in second.page.inner_text("#hold-left")
        assert second.page.locator("#replace-legs").is_disabled()
        assert second.page.locator("[data-book='0']").is_enabled()  # plan again, book again
    finally:
        first.close()
        second.close()


LINES_OF = """(sel) => [...document.querySelectorAll(sel)].filter((e) => e.offsetParent !== null)
    .map((e) => { const r = document.createRange(); r.selectNodeContents(e);
                  const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
                  return [e.innerText, tops.size]; })"""
OVERLAPS = """(sel) => { const boxes = [...document.querySelectorAll(sel)].map((e) => [e.id, e.getBoundingClientRect()]);
    const out = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5) out.push([a, b]);
    }
    return out; }"""
# the texts a chart draws on its canvas (labels, legend), from zrender's display list: which
# ones cover another (ECharts hides overlapping labels; this checks what it left shown)
CANVAS_TEXT_OVERLAPS = """(id) => {
    const zr = echarts.getInstanceByDom(document.getElementById(id)).getZr();
    const texts = zr.storage.getDisplayList(true).filter((el) => el.type === 'tspan' && !el.ignore
        && !el.invisible && el.style && el.style.text && el.style.opacity !== 0).map((el) => {
      const r = el.getBoundingRect().clone(); r.applyTransform(el.getComputedTransform());
      return [String(el.style.text), r]; });
    const hits = [];
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const p = texts[i][1], q = texts[j][1];
      if (p.x < q.x + q.width - 0.5 && q.x < p.x + p.width - 0.5 && p.y < q.y + q.height - 0.5
          && q.y < p.y + p.height - 0.5) hits.push([texts[i][0], texts[j][0]]);
    }
    return [texts.length, hits]; }"""
OUTSIDE_LABEL = """(sel) => [...document.querySelectorAll(sel)].filter((c) => {
    const box = c.getBoundingClientRect(), cell = c.closest('label').getBoundingClientRect();
    return box.left < cell.left - 0.5 || box.right > cell.right + 0.5; }).map((c) => c.id)"""


def test_the_console_lays_out_without_overlap_on_a_laptop_and_a_phone(browser, fed):
    """Measured in the browser: at 1366 × 768 the timeline starts on the first screen, under a
    legend of its colours, and the plan form's controls stay in their cells without covering
    each other; at 390 × 844 no date is wrapped; at both no text the map draws (place names,
    legend) covers another, nor on the phone do the timeline's hours and connectors."""
    station = _quiet_station(fed, "a")
    r = fed.book(
        "a",
        {
            "car_id": "car-layout",
            "legs": [
                {
                    "company": "a",
                    "station_id": station["id"],
                    "connector_id": station["connectors"][0]["id"],
                    "start": iso(soon(60)),
                    "end": iso(soon(60) + timedelta(minutes=30)),
                }
            ],
        },
    )
    assert r.status_code == 201, r.text  # a row in the federation panel
    laptop = operator_at(browser, fed, "a", 1366, 768)
    try:
        laptop.page.wait_for_selector("#federation td", timeout=LOADED)
        top = laptop.js(
            "() => document.getElementById('timeline').closest('article')"
            ".getBoundingClientRect().top"
        )
        assert top < 768, f"the timeline starts {top:.0f} px down on a 768 px screen"
        legend = laptop.js(
            "() => [...document.querySelectorAll('#timeline-legend li')]"
            ".map((li) => li.innerText.trim())"
        )
        assert set(legend) == {
            "held",
            "confirmed",
            "charging",
            "completed",
            "no-show",
            "preempted",
            "cancelled",
            "aborted",
        }, legend
        shown, covering = laptop.js(CANVAS_TEXT_OVERLAPS, "map")
        assert shown > 20 and covering == [], (shown, covering)  # place names and legend
        laptop.page.click("#tab-driver")
        laptop.page.fill(
            "#driver-token", fed.issue_driver("a", "layout")["Authorization"].split()[1]
        )
        laptop.page.click("#driver-login button[type=submit]")
        laptop.page.wait_for_selector("#plan-button", timeout=LOADED)
        controls = "#plan-form label > input, #plan-form label > select"
        assert laptop.js(OUTSIDE_LABEL, controls) == []
        assert laptop.js(OVERLAPS, controls) == []
        assert laptop.errors == []
    finally:
        laptop.close()
    phone = operator_at(browser, fed, "a", 390, 844)
    try:
        phone.page.wait_for_selector("#federation td.when", timeout=LOADED)
        phone.page.wait_for_selector("#drivers td.when", timeout=LOADED)
        wrapped = [(text, lines) for text, lines in phone.js(LINES_OF, "td.when") if lines > 1]
        assert wrapped == [], wrapped
        shown, covering = phone.js(CANVAS_TEXT_OVERLAPS, "map")
        assert shown > 20 and covering == [], (shown, covering)
        phone.page.wait_for_selector("#timeline canvas", timeout=LOADED)
        shown, covering = phone.js(CANVAS_TEXT_OVERLAPS, "timeline")  # hours, connectors
        assert shown > 3 and covering == [], (shown, covering)
        assert phone.errors == []
    finally:
        phone.close()


def operator_at(browser, fed, company: str, width: int, height: int) -> Console:
    tab = Console(
        browser,
        f"{fed.servers[company].url}/console/#admin={fed.servers[company].admin_token}",
        width=width,
        height=height,
    )
    tab.page.wait_for_selector("#map[data-stations]", timeout=LOADED)
    return tab


def _quiet_station(fed, company: str) -> dict:
    """An available station of ``company`` far from where the other tests of this module book
    (Recife, Aracaju, Natal and the trip João Pessoa → Feira de Santana)."""
    items = fed.http.get(f"{fed.api(company)}/stations", params={"limit": 500}).json()["items"]
    return next(
        s
        for s in sorted(items, key=lambda s: s["id"])
        if s["status"] == "available"
        and s["place_id"]
        in (
            "fortaleza",
            "mossoro",
            "teresina",
            "sobral",
            "caico",
            "juazeiro-do-norte",
            "picos",
            "sao-luis",
            "timon",
            "piripiri",
            "russas",
            "sousa",
            "cajazeiras",
        )
    )
