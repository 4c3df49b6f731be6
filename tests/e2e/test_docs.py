"""Every command README and docs/ give a user to run, run here as written.

A block a document offers to be run is preceded by ``<!-- runs-in-suite: ID … -->``. The blocks
are read out of the documents themselves (a document and its test cannot drift apart) and run
with bash from the repository's root, with nothing of this test's environment but PATH and
HOME: the single-server recipe on the real PostgreSQL, the kept demo with README's newman and
``recarga drive`` lines and docs/api.md's curl booking against it. Every ``sh`` block of
README.md carries a mark, and every mark names a test that runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import httpx
import pytest

from tests.support import ROOT, _pg_admin

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = re.compile(r"<!-- runs-in-suite: ([a-z0-9-]+)[^>]*-->\n```sh\n(.*?)```", re.S)
RUN_HERE = {"server-a", "server-b", "register-peer", "newman-demo-flow", "drive", "curl-booking"}
RUN_ELSEWHERE = {"make": "tests/e2e/test_demo.py runs make demo; make test is this suite"}


def marked_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for doc in DOCUMENTS:
        for name, text in MARK.findall(doc.read_text()):
            assert name not in blocks, f"two blocks marked {name}"
            blocks[name] = text
    return blocks


def clean_env() -> dict[str, str]:
    """A user's shell: PATH and HOME, none of the suite's variables."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "USER")}


def bash(block: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", block], cwd=ROOT, env=clean_env(), text=True, capture_output=True, **kw
    )


def test_every_readme_shell_block_is_marked_and_every_mark_is_run():
    readme = (ROOT / "README.md").read_text()
    unmarked = [
        m.start()
        for m in re.finditer(r"```sh\n", readme)
        if not re.search(r"<!-- runs-in-suite: [^>]*-->\n$", readme[: m.start()])
    ]
    assert unmarked == [], f"README sh blocks at offsets {unmarked} carry no runs-in-suite mark"
    assert set(marked_blocks()) == RUN_HERE | set(RUN_ELSEWHERE)


def _drop(*names: str) -> None:
    admin = _pg_admin()
    try:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the recipe's server exited: {proc.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.3)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def test_one_company_then_two_as_readme_says():
    """README's single-server recipe, its second company and the peer registration, as
    written (the databases they name are this test's: dropped before and after)."""
    blocks = marked_blocks()
    assert _free(8080) and _free(8081), "README's recipe serves on 8080 and 8081: free them"
    _drop("recarga_a", "recarga_b")
    procs = []
    try:
        for name, port in (("server-a", 8080), ("server-b", 8081)):
            proc = subprocess.Popen(
                ["bash", "-c", blocks[name]],
                cwd=ROOT,
                env=clean_env(),
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append(proc)
            _wait_healthy(f"http://127.0.0.1:{port}/api/v1/health", proc)
        registered = bash(blocks["register-peer"], timeout=60)
        assert registered.returncode == 0, registered.stderr
        assert json.loads(registered.stdout)["company"] == "b", registered.stdout
        peers = httpx.get(
            "http://127.0.0.1:8080/api/v1/peers", headers={"Authorization": "Bearer change-me-a"}
        ).json()["items"]
        assert [(p["company"], p["reachable"]) for p in peers] == [("b", True)]
        both = httpx.get("http://127.0.0.1:8080/api/v1/catalog").json()
        assert both["stations"], "company a serves its seeded stations"
    finally:
        for proc in procs:
            assert _stop(proc) in (0, -signal.SIGTERM)
        _drop("recarga_a", "recarga_b")


def test_a_missing_database_is_one_line_naming_the_fix():
    _drop("recarga_missing_docs")
    for command in ("seed", "serve"):
        env = {
            **clean_env(),
            "RECARGA_COMPANY": "a",
            "RECARGA_ADMIN_TOKEN": "change-me-a",
            "RECARGA_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/recarga_missing_docs",
        }
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "recarga"), command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr.count("\n") == 1, run.stderr
        assert "createdb -h 127.0.0.1 -U postgres recarga_missing_docs" in run.stderr


def _stations(env: dict[str, str]) -> dict[str, list[str]]:
    return {
        c: sorted(
            s["id"]
            for s in httpx.get(
                f"{env[f'API_{c.upper()}']}/stations", params={"limit": 1000}
            ).json()["items"]
        )
        for c in "abc"
    }


@pytest.fixture(scope="module")
def kept_demo():
    """``make demo DEMO_ARGS=--keep``, as README writes it, until its federation is kept."""
    demo = subprocess.Popen(
        ["make", "demo", "DEMO_ARGS=--keep"],
        cwd=ROOT,
        env=clean_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out: list[str] = []
    env: dict[str, str] = {}
    deadline = time.monotonic() + 420
    try:
        for line in demo.stdout:
            out.append(line)
            if line.startswith("The federation keeps running"):
                break
            assert time.monotonic() < deadline, "".join(out[-40:])
        else:
            pytest.fail("make demo ended without keeping the federation: " + "".join(out[-40:]))
        # the commands it prints are README's, ready to paste
        printed = [demo.stdout.readline().strip() for _ in range(2)]
        env = dict(
            line.split("=", 1)
            for line in (ROOT / "demo-run" / "demo.env").read_text().splitlines()
            if line and not line.startswith("#")
        )
        yield {"printed": printed, "env": env, "log": out}
    finally:
        # Ctrl-C, as README says: the demo stops its servers (make itself reports the signal)
        _stop(demo, signal.SIGINT)
        for key, url in env.items():
            if key.startswith("API_"):
                with pytest.raises(httpx.TransportError):
                    httpx.get(f"{url}/health", timeout=2)


def test_the_kept_demo_prints_readme_s_commands(kept_demo):
    blocks = marked_blocks()
    assert kept_demo["printed"] == [blocks["newman-demo-flow"].strip(), blocks["drive"].strip()]


def test_readme_s_newman_line_runs_the_demo_flow_and_changes_no_station(kept_demo):
    before = _stations(kept_demo["env"])
    run = bash(marked_blocks()["newman-demo-flow"], timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Demo flow" in run.stdout and "AssertionError" not in run.stdout
    failed = re.search(r"│\s+assertions\s+│\s+(\d+)\s+│\s+(\d+)\s+│", run.stdout)
    assert failed and int(failed.group(1)) > 20 and failed.group(2) == "0", run.stdout[-3000:]
    assert _stations(kept_demo["env"]) == before


def test_readme_s_recarga_drive_books_a_trip_on_the_kept_demo(kept_demo):
    # a person's answers: option 1, the first alternative if a stop was taken, then keep it
    run = bash(marked_blocks()["drive"], input="1\n" * 8, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "connecting to the broker" in run.stdout
    assert re.search(r"booking bk-\S+ is confirmed", run.stdout), run.stdout


def test_api_md_s_curl_booking_books_on_the_kept_demo(kept_demo):
    run = bash(marked_blocks()["curl-booking"], timeout=120)
    assert run.returncode == 0, run.stderr
    booking = json.loads(run.stdout)
    assert booking["state"] == "confirmed", booking
    assert booking["legs"] and all(leg["state"] == "confirmed" for leg in booking["legs"])
