"""Servers started one after another get ports of their own: the kernel may hand the same
free port to two binds in a row once the first socket is closed, and two companies of a
federation once met on one port (the second failed to bind while the first answered its
health check)."""

from __future__ import annotations

import importlib.util

from tests.support import ROOT, free_port


def test_free_port_never_hands_out_a_port_twice():
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_the_demo_chooses_distinct_ports_for_its_broker_and_companies():
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    for _ in range(50):
        ports = demo.free_ports(4)
        assert len(set(ports)) == 4
