import pytest

from tests.support import ServerProcess, create_pg_database, drop_pg_database


@pytest.fixture
def pg_url():
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="module")
def pg_url_module():
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="module")
def server_a(pg_url_module, tmp_path_factory):
    """Company 'a' on its own throwaway PostgreSQL database, seeded."""
    from tests.federation import REGISTRATION

    server = ServerProcess("a", pg_url_module, log_dir=tmp_path_factory.mktemp("logs"),
                           RECARGA_REGISTRATION_TOKEN=REGISTRATION)
    server.run_cli("seed", "--seed", "3")
    server.start()
    yield server
    server.stop()
