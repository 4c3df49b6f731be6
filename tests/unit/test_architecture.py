"""docs/architecture.md's picture is the code's import graph, package by package."""

from __future__ import annotations

import re

import grimp

from tests.support import ROOT

PACKAGES = [
    "recarga",
    "carsim",
    "console",
    "handlers",
    "mqtt",
    "service",
    "storage",
    "federation",
    "booking",
    "planning",
    "network",
]


def test_the_documented_import_graph_is_the_real_one():
    graph = grimp.build_graph(*PACKAGES)
    real = {
        (a, b)
        for a in PACKAGES
        for b in PACKAGES
        if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True)
    }
    doc = (ROOT / "docs" / "architecture.md").read_text()
    picture = doc[doc.index("flowchart TD") :]
    picture = picture[: picture.index("```")]
    drawn = set(re.findall(r"^\s+(\w+) --> (\w+)\s*$", picture, re.MULTILINE))
    assert drawn == real, {
        "missing from the picture": real - drawn,
        "not in the code": drawn - real,
    }
