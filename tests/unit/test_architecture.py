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


SERVICE_PARTS = ["company", "catalogs", "protocol", "charging", "monitor"]


def _pictures() -> list[set[tuple[str, str]]]:
    """The edges of each `flowchart TD` picture of docs/architecture.md, in order."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    pictures = []
    for part in doc.split("flowchart TD")[1:]:
        picture = part[: part.index("```")]
        pictures.append(set(re.findall(r"^\s+(\w+) --> (\w+)\s*$", picture, re.MULTILINE)))
    return pictures


def _real(graph: grimp.ImportGraph, names: list[str], prefix: str = "") -> set[tuple[str, str]]:
    return {
        (a, b)
        for a in names
        for b in names
        if a != b
        and graph.direct_import_exists(importer=prefix + a, imported=prefix + b, as_packages=True)
    }


def test_the_documented_import_graph_is_the_real_one():
    graph = grimp.build_graph(*PACKAGES)
    real = _real(graph, PACKAGES)
    drawn = _pictures()[0]
    assert drawn == real, {
        "missing from the picture": real - drawn,
        "not in the code": drawn - real,
    }


def test_the_documented_service_parts_are_the_real_ones():
    """Every module of the service layer is in one of its parts, and the parts import each
    other as the second picture draws (annotations under TYPE_CHECKING are no imports)."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    top = {m.split(".")[1] for m in graph.find_descendants("service")}
    assert top == set(SERVICE_PARTS)
    real = _real(graph, SERVICE_PARTS, prefix="service.")
    drawn = _pictures()[1]
    assert drawn == real, {
        "missing from the picture": real - drawn,
        "not in the code": drawn - real,
    }
