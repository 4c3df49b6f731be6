"""Shared fixtures. Tests live by what they need to run:

* ``tests/unit`` — the pure core (planning, the protocol's state machines, the contract): no
  I/O, seconds in all (``pytest tests/unit``);
* ``tests/integration`` — the service layer in this process on a real database;
* ``tests/e2e`` — real processes: servers, brokers, databases, the real clients.

Each test gets the marker of its folder (``-m unit``, ``-m "not e2e"``).
"""

from pathlib import Path

import pytest

from tests.broker import Mosquitto
from tests.support import ServerProcess, create_pg_database, drop_pg_database

_KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        kind = Path(str(item.fspath)).parent.name
        if kind in _KINDS:
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture
def pg_url():
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path):
    """The same test on both engines: a throwaway PostgreSQL database, then a SQLite file."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'company.db'}"


@pytest.fixture(scope="module")
def pg_url_module():
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="module")
def server_a(pg_url_module, tmp_path_factory):
    """Company 'a' on its own throwaway PostgreSQL database, seeded."""
    from tests.federation import REGISTRATION

    server = ServerProcess(
        "a",
        pg_url_module,
        log_dir=tmp_path_factory.mktemp("logs"),
        RECARGA_REGISTRATION_TOKEN=REGISTRATION,
    )
    server.run_cli("seed", "--seed", "3")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A Mosquitto of the module's own on a free port, killed at its end (a module that needs
    passwords or an ACL defines its own)."""
    b = Mosquitto(tmp_path_factory.mktemp("broker")).start()
    yield b
    b.kill()


@pytest.fixture(scope="module")
def peer_token(server_a):
    """Headers of a peer company ("hostile") registered with ``server_a`` by the handshake."""
    import httpx

    from tests.federation import REGISTRATION

    r = httpx.post(
        f"{server_a.api}/peers",
        json={"company": "hostile", "url": "http://127.0.0.1:9", "token": "h" * 32},
        headers={"Authorization": f"Bearer {REGISTRATION}"},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
def station(server_a):
    """``server_a``'s first station."""
    import httpx

    return httpx.get(f"{server_a.api}/stations", params={"limit": 1}).json()["items"][0]
