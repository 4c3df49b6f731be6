"""`make demo` starts and answers (the README's first command)."""

import subprocess

from tests.support import ROOT


def test_make_demo_once_answers_health():
    run = subprocess.run(["make", "demo", "DEMO_ARGS=--once"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "company a is ok" in run.stdout
